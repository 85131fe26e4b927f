-- Lingofox's tables, in DDL that both SQLite and PostgreSQL accept.
CREATE TABLE learners (
    id INTEGER PRIMARY KEY,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    age_range TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_active_at TIMESTAMP WITH TIME ZONE,
    closed_at TIMESTAMP WITH TIME ZONE
);

CREATE TABLE lessons (
    id INTEGER PRIMARY KEY,
    learner_id INTEGER NOT NULL,
    course TEXT NOT NULL,
    score INTEGER,
    completed_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE app_sessions (
    id INTEGER PRIMARY KEY,
    learner_id INTEGER NOT NULL,
    advertising_id TEXT,
    ip_address TEXT,
    device_model TEXT,
    region TEXT,
    subscriber BOOLEAN NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE ad_impressions (
    id INTEGER PRIMARY KEY,
    learner_id INTEGER,
    advertising_id TEXT,
    network TEXT NOT NULL,
    placement TEXT NOT NULL,
    clicked BOOLEAN,
    shown_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE purchases (
    id INTEGER PRIMARY KEY,
    learner_id INTEGER NOT NULL,
    product TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    store_receipt TEXT,
    purchased_at TIMESTAMP WITH TIME ZONE NOT NULL
);
