"""Vocabulary of support tickets: themes, subjects and body sentences.

Slots available to every template: ``order_id``, ``product``, ``days``, ``amount``,
``currency``, ``first_name``, ``full_name``, ``email``, ``phone``, ``national_id``.
"""

from __future__ import annotations

__all__ = ["CLOSINGS", "CONTACT", "GREETINGS", "ID_MENTION", "SIGNOFFS", "THEMES"]

#: theme -> {"about_order", "priority" (low, medium, high, urgent weights), "days" (min, max days
#: after the order), "subjects", "problems", "details"}
THEMES: dict[str, dict[str, object]] = {
    "delivery_delay": {
        "about_order": True,
        "priority": (0.2, 0.5, 0.25, 0.05),
        "days": (4, 16),
        "subjects": (
            "Where is my order #{order_id}?",
            "Order {order_id} still not delivered",
            "Late delivery",
            "Tracking has not updated for days",
            "Parcel missing - order {order_id}",
        ),
        "problems": (
            "I ordered the {product} {days} days ago and it still has not arrived.",
            "My order #{order_id} was supposed to be here last week but there is no sign of it.",
            "The tracking page for order {order_id} has said 'in transit' for {days} days now.",
            "I'm still waiting on my {product}; the courier keeps postponing the delivery.",
        ),
        "details": (
            "I need it for a trip this weekend, so timing really matters.",
            "Could you check with the carrier what is going on?",
            "If it can't arrive soon I would rather cancel and get my money back.",
            "Nobody was at the depot when I called the delivery company.",
        ),
    },
    "refund_request": {
        "about_order": True,
        "priority": (0.15, 0.5, 0.3, 0.05),
        "days": (6, 30),
        "subjects": (
            "Refund for order {order_id}",
            "Still waiting for my refund",
            "Money back please",
            "Refund not received",
            "Return processed but no refund",
        ),
        "problems": (
            "I sent the {product} back {days} days ago but my refund of {amount} {currency} never came.",
            "Please refund order #{order_id}; I returned it as instructed.",
            "Your returns page says my parcel arrived, yet the {amount} {currency} is not back on my card.",
            "I cancelled order {order_id} and was told I'd be refunded within five days.",
        ),
        "details": (
            "It has been more than two weeks and I keep getting automated replies.",
            "Can you confirm when the money will show up on my statement?",
            "I'd like the refund to the original payment method, not store credit.",
            "I have the return receipt if you need it.",
        ),
    },
    "damaged_item": {
        "about_order": True,
        "priority": (0.1, 0.45, 0.35, 0.1),
        "days": (4, 20),
        "subjects": (
            "Damaged item received",
            "{product} arrived broken",
            "Order {order_id}: item damaged",
            "Faulty product",
            "Broken on arrival",
        ),
        "problems": (
            "The {product} from order {order_id} arrived with a torn seam and a bent frame.",
            "When I opened the box the {product} was scratched and one part had snapped off.",
            "My {product} stopped working after a single use, clearly a manufacturing fault.",
            "The packaging was crushed and the {product} inside is damaged.",
        ),
        "details": (
            "I've attached photos of the damage.",
            "I would like a replacement rather than a refund if possible.",
            "Please send a prepaid return label.",
            "This was meant to be a gift, so I'm pretty disappointed.",
        ),
    },
    "wrong_item": {
        "about_order": True,
        "priority": (0.2, 0.55, 0.2, 0.05),
        "days": (4, 18),
        "subjects": (
            "Wrong item sent",
            "Received the wrong product",
            "Order {order_id} mix-up",
            "This is not what I ordered",
            "Incorrect size/colour delivered",
        ),
        "problems": (
            "I ordered the {product} but received something completely different.",
            "Order #{order_id} contained the wrong size of the {product}.",
            "The parcel for order {order_id} had someone else's items in it.",
            "You sent me the wrong colour of the {product}.",
        ),
        "details": (
            "How do I swap it for the correct one?",
            "I don't want to pay for the return shipping since it was your mistake.",
            "Please send the right item as soon as possible.",
            "The packing slip lists the correct product, so the warehouse must have mixed it up.",
        ),
    },
    "account_access": {
        "about_order": False,
        "priority": (0.1, 0.4, 0.35, 0.15),
        "days": (0, 30),
        "subjects": (
            "Can't log in",
            "Password reset not working",
            "Account locked",
            "Two-factor code never arrives",
            "Someone changed my account e-mail",
        ),
        "problems": (
            "I can't log into my account; the password reset link says it has expired.",
            "My account was locked after too many attempts and the unlock e-mail never arrives.",
            "I'm not receiving the two-factor code by text message.",
            "I think someone else accessed my account and changed my details.",
        ),
        "details": (
            "I have an order in progress and need to check its status.",
            "I have already tried a different browser and cleared my cookies.",
            "Please help me regain access as soon as possible.",
            "I'm worried my saved card details might be at risk.",
        ),
    },
    "billing_question": {
        "about_order": True,
        "priority": (0.35, 0.45, 0.15, 0.05),
        "days": (1, 25),
        "subjects": (
            "Charged twice",
            "Question about my invoice",
            "Unexpected charge on my card",
            "VAT invoice for order {order_id}",
            "Payment failed but money taken",
        ),
        "problems": (
            "I was charged {amount} {currency} twice for order #{order_id}.",
            "Could you send me a VAT invoice for order {order_id}?",
            "My payment failed at checkout but my bank still shows a pending charge of {amount} {currency}.",
            "The amount on my statement does not match the order total for the {product}.",
        ),
        "details": (
            "Please reverse the duplicate charge.",
            "I need the invoice for my company's expense report.",
            "Can you explain what the extra charge was for?",
            "My bank asked me to contact you first.",
        ),
    },
    "product_question": {
        "about_order": False,
        "priority": (0.6, 0.35, 0.05, 0.0),
        "days": (0, 5),
        "subjects": (
            "Question about the {product}",
            "Sizing advice",
            "Is this waterproof?",
            "Compatibility question",
            "Restock date?",
        ),
        "problems": (
            "Is the {product} suitable for winter conditions?",
            "I'm between two sizes for the {product}; which one would you recommend?",
            "Does the {product} come with a warranty, and how long is it?",
            "When will the {product} be back in stock in my size?",
        ),
        "details": (
            "I'm planning a long trip and want to get it right.",
            "The product page doesn't say.",
            "Thanks in advance for the advice.",
            "I'd buy two if the answer is yes.",
        ),
    },
}

GREETINGS: tuple[str, ...] = ("Hi,", "Hello Northwind team,", "Hi there,", "Dear support,", "")
CLOSINGS: tuple[str, ...] = (
    "Please let me know what happens next.",
    "Can you help me sort this out?",
    "Looking forward to your reply.",
    "This is really frustrating, please fix it quickly.",
    "",
)
#: Sentences that leak contact details (PII) into the free text.
CONTACT: tuple[str, ...] = (
    "You can reach me at {email}.",
    "My number is {phone} if it's easier to call.",
    "Please reply to {email} rather than my old address.",
    "Call me on {phone} any time after 5pm.",
)
#: Sentence leaking a national id (used in some account_access tickets).
ID_MENTION = "For verification, my ID number is {national_id}."
SIGNOFFS: tuple[str, ...] = ("Thanks, {first_name}", "Best regards, {full_name}", "Cheers", "Thank you")
