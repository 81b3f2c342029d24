"""Vocabulary of the product catalogue: categories, nouns, materials, features, templates.

Each category has its own materials, features, uses and closing sentences, so topic
models and auto-taggers have signal; adjectives come in synonym groups and sentence
templates in interchangeable pools, so near-duplicate listings can be reworded while
keeping their meaning.
"""

from __future__ import annotations

__all__ = ["ADJECTIVES", "BODIES", "BRANDS", "CATEGORIES", "OPENERS"]

#: category -> {"code", "subcategories": {sub: ((noun, base price USD), ...)}, "materials",
#: "features", "uses", "closers"}
CATEGORIES: dict[str, dict[str, object]] = {
    "camping": {
        "code": "CMP",
        "subcategories": {
            "tents": (
                ("dome tent", 260.0),
                ("tunnel tent", 340.0),
                ("backpacking tent", 420.0),
                ("family tent", 520.0),
            ),
            "sleeping": (("sleeping bag", 180.0), ("sleeping pad", 95.0), ("camp pillow", 30.0)),
            "camp_kitchen": (
                ("camp stove", 75.0),
                ("cook set", 60.0),
                ("insulated mug", 25.0),
                ("water filter", 45.0),
            ),
            "lighting": (("headlamp", 40.0), ("camp lantern", 35.0)),
        },
        "materials": (
            "ripstop nylon",
            "recycled polyester",
            "silicone-coated fabric",
            "aluminium alloy",
            "stainless steel",
        ),
        "features": (
            "a waterproof rain fly",
            "a quick-pitch frame",
            "taped seams",
            "two storage pockets",
            "a 3000 mm hydrostatic head",
            "an integrated stuff sack",
        ),
        "uses": (
            "weekend camping trips",
            "backcountry overnights",
            "family campouts",
            "festival weekends",
            "car camping",
        ),
        "closers": (
            "Pitch it at the campsite, zip up against the weather and sleep soundly.",
            "A dependable piece of kit for nights under the stars.",
            "Throw it in the car or your rucksack and the campsite is ready when you are.",
        ),
    },
    "hiking": {
        "code": "HIK",
        "subcategories": {
            "footwear": (("hiking boot", 165.0), ("trail runner", 140.0), ("approach shoe", 150.0)),
            "packs": (("daypack", 85.0), ("backpack", 190.0), ("hydration pack", 70.0)),
            "navigation": (("trekking poles", 90.0), ("compass", 35.0), ("GPS watch", 320.0)),
        },
        "materials": (
            "full-grain leather",
            "breathable mesh",
            "recycled nylon",
            "carbon fibre",
            "sticky rubber",
        ),
        "features": (
            "a grippy lugged outsole",
            "solid ankle support",
            "a padded hip belt",
            "a ventilated back panel",
            "quick-lace hooks",
            "an adjustable torso length",
        ),
        "uses": ("day hikes", "long-distance trekking", "alpine trails", "thru-hikes", "forest walks"),
        "closers": (
            "Lace up and hit the trail with confidence.",
            "Made for miles of rocky paths and muddy switchbacks.",
            "A trusted partner from the trailhead to the summit.",
        ),
    },
    "apparel": {
        "code": "APP",
        "subcategories": {
            "jackets": (
                ("rain jacket", 190.0),
                ("down jacket", 260.0),
                ("softshell jacket", 160.0),
                ("fleece", 85.0),
            ),
            "base_layers": (("merino base layer", 75.0), ("thermal leggings", 55.0)),
            "accessories": (("beanie", 25.0), ("gloves", 40.0), ("sun hat", 30.0), ("hiking socks", 18.0)),
        },
        "materials": (
            "merino wool",
            "recycled down",
            "a waterproof membrane",
            "organic cotton",
            "brushed fleece",
        ),
        "features": (
            "sealed seams",
            "an adjustable hood",
            "pit zips",
            "thumb loops",
            "a packable design",
            "natural odour resistance",
        ),
        "uses": ("rainy commutes", "cold-weather layering", "mountain days", "travel", "everyday adventures"),
        "closers": (
            "Layer it up when the forecast turns.",
            "Stay warm and dry from city streets to mountain ridges.",
            "An essential layer for changeable weather.",
        ),
    },
    "climbing": {
        "code": "CLM",
        "subcategories": {
            "ropes": (("dynamic rope", 190.0), ("static rope", 150.0)),
            "hardware": (("carabiner", 15.0), ("belay device", 35.0), ("quickdraw set", 120.0)),
            "protection": (("climbing harness", 70.0), ("climbing helmet", 80.0), ("chalk bag", 25.0)),
            "climbing_shoes": (("climbing shoe", 130.0),),
        },
        "materials": (
            "nylon kernmantle",
            "hot-forged aluminium",
            "synthetic suede",
            "EPS foam",
            "high-tenacity webbing",
        ),
        "features": (
            "a dry treatment",
            "a keylock gate",
            "an auto-locking mechanism",
            "four gear loops",
            "a downturned last",
            "a low-profile buckle",
        ),
        "uses": (
            "sport climbing",
            "trad routes",
            "bouldering sessions",
            "indoor gym training",
            "multi-pitch days",
        ),
        "closers": (
            "Trusted on the crag and in the gym.",
            "Clip in, chalk up and send your next project.",
            "Safety certified, so you can focus on the route ahead.",
        ),
    },
    "cycling": {
        "code": "CYC",
        "subcategories": {
            "bikes": (("gravel bike", 1800.0), ("e-bike", 2900.0), ("commuter bike", 950.0)),
            "bike_accessories": (
                ("bike helmet", 90.0),
                ("bike light", 40.0),
                ("saddle bag", 35.0),
                ("mini pump", 30.0),
            ),
            "cycling_apparel": (("cycling jersey", 85.0), ("bib shorts", 110.0)),
        },
        "materials": ("carbon fibre", "6061 aluminium", "chromoly steel", "a Lycra blend", "an ABS shell"),
        "features": (
            "internal cable routing",
            "tubeless-ready rims",
            "reflective details",
            "a USB-C rechargeable battery",
            "a quick-release mount",
            "a chamois pad",
        ),
        "uses": (
            "gravel rides",
            "daily commuting",
            "bikepacking tours",
            "mountain bike trails",
            "long road rides",
        ),
        "closers": (
            "Clip in and enjoy every kilometre of the ride.",
            "Built to handle gravel, tarmac and everything between.",
            "Ride further, faster and safer.",
        ),
    },
    "water_sports": {
        "code": "WTR",
        "subcategories": {
            "boats": (("touring kayak", 950.0), ("stand-up paddle board", 650.0), ("packraft", 780.0)),
            "paddling_gear": (("kayak paddle", 120.0), ("dry bag", 30.0), ("life jacket", 95.0)),
            "swim": (("wetsuit", 220.0), ("swim buoy", 25.0)),
        },
        "materials": (
            "rotomoulded polyethylene",
            "neoprene",
            "PVC-coated fabric",
            "drop-stitch PVC",
            "fibreglass",
        ),
        "features": (
            "a spray deck",
            "adjustable foot braces",
            "a roll-top closure",
            "a high-visibility colour",
            "a rear storage hatch",
            "a non-slip deck pad",
        ),
        "uses": ("lake paddling", "sea kayaking", "river trips", "coastal swims", "stand-up paddling"),
        "closers": (
            "Launch from the shore and paddle with ease.",
            "Stays reliable on calm lakes and choppy coastal water.",
            "Keeps you safe and dry out on the water.",
        ),
    },
}

BRANDS: tuple[str, ...] = (
    "Trailhead",
    "Summitline",
    "Fjordcraft",
    "Ridgeback",
    "Pinecrest",
    "Alpenglow",
    "Northwind",
    "Driftwood",
    "Basecamp Labs",
    "Cairnworks",
)

#: Synonym groups; a near-duplicate swaps the adjective for another in its group.
#: (All start with a consonant so templates can say "a {adj} ...".)
ADJECTIVES: tuple[tuple[str, str, str], ...] = (
    ("lightweight", "featherlight", "low-weight"),
    ("durable", "rugged", "hard-wearing"),
    ("versatile", "do-it-all", "multi-purpose"),
    ("weatherproof", "storm-ready", "rainproof"),
    ("compact", "packable", "space-saving"),
    ("comfortable", "cushioned", "plush"),
    ("technical", "performance-focused", "pro-grade"),
)

#: First sentence; slots: brand, noun, adj, use.
OPENERS: tuple[str, ...] = (
    "The {brand} {noun} is a {adj} companion for {use}.",
    "Designed for {use}, this {adj} {noun} from {brand} keeps up wherever you go.",
    "Meet the {adj} {noun} by {brand}, made with {use} in mind.",
    "{brand} built this {adj} {noun} for anyone who loves {use}.",
)

#: Second sentence; slots: material, feature, feature2.
BODIES: tuple[str, ...] = (
    "It is made from {material} and features {feature} plus {feature2}.",
    "Crafted in {material}, it combines {feature} with {feature2}.",
    "Thanks to its {material} construction you get {feature} and {feature2}.",
    "Expect {feature} and {feature2} from the {material} build.",
)
