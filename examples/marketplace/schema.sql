-- Makersquare's tables, in DDL that both SQLite and PostgreSQL accept.
CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    full_name TEXT,
    email TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_seen_at TIMESTAMP WITH TIME ZONE,
    closed_at TIMESTAMP WITH TIME ZONE
);

CREATE TABLE shops (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL,
    shop_name TEXT NOT NULL,
    about TEXT,
    ships_from TEXT,
    opened_at TIMESTAMP WITH TIME ZONE NOT NULL
);

-- buyer_id and seller_id may be NULL: an erasure anonymises the erased party's link.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    buyer_id INTEGER,
    seller_id INTEGER,
    ship_to_name TEXT,
    ship_to_address TEXT,
    note_to_seller TEXT,
    items TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    placed_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    shop_id INTEGER NOT NULL,
    rating INTEGER NOT NULL,
    body TEXT,
    written_at TIMESTAMP WITH TIME ZONE NOT NULL
);
