-- Worklane's tables, in DDL that both SQLite and PostgreSQL accept.
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    time_zone TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_seen_at TIMESTAMP WITH TIME ZONE,
    closed_at TIMESTAMP WITH TIME ZONE
);

CREATE TABLE sign_ins (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    signed_in_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE signups (
    id INTEGER PRIMARY KEY,
    person_id INTEGER,
    ip_address TEXT,
    signed_up_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    creator_id INTEGER NOT NULL,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT,
    body TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    trashed_at TIMESTAMP WITH TIME ZONE
);

CREATE TABLE chat_lines (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    room TEXT NOT NULL,
    body TEXT,
    posted_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE charges (
    id INTEGER PRIMARY KEY,
    payer_id INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    card_expiry TEXT,
    billing_address TEXT,
    charged_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE page_views (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT,
    ip_address TEXT,
    page TEXT NOT NULL,
    referrer TEXT,
    browser TEXT,
    viewed_at TIMESTAMP WITH TIME ZONE NOT NULL
);
