-- Postvault's tables, in DDL that both SQLite and PostgreSQL accept.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL UNIQUE,
    recovery_email TEXT,
    plan TEXT NOT NULL,
    storage_bytes INTEGER,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_login_at TIMESTAMP WITH TIME ZONE,
    closed_at TIMESTAMP WITH TIME ZONE
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    folder TEXT NOT NULL,
    sender TEXT,
    recipients TEXT,
    subject TEXT,
    body_ciphertext TEXT,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE signup_checks (
    id INTEGER PRIMARY KEY,
    account_id INTEGER,
    method TEXT NOT NULL,
    ip_address TEXT,
    phone TEXT,
    checked_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    card_last4 TEXT,
    paid_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE support_messages (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    from_address TEXT,
    body TEXT,
    written_at TIMESTAMP WITH TIME ZONE NOT NULL
);
