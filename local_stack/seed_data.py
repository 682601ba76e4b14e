"""The data inside the seeded clusters: enough for users, grants and masking to act on."""

from __future__ import annotations

ORDERS_SCHEMA = """
CREATE SCHEMA orders;
CREATE TABLE public.customers (
    id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL
);
CREATE TABLE public.sessions (
    id serial PRIMARY KEY, customer_id int REFERENCES public.customers (id), token text NOT NULL
);
CREATE TABLE orders.orders (
    id serial PRIMARY KEY,
    customer_id int REFERENCES public.customers (id),
    total numeric(10, 2) NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now()
);
"""

PRODUCTION_ORDERS = (
    ORDERS_SCHEMA
    + """
INSERT INTO public.customers (name, email) VALUES
    ('Ada Lovelace', 'ada@lovelace.example'),
    ('Grace Hopper', 'grace@navy.example'),
    ('Edsger Dijkstra', 'ewd@tue.example');
INSERT INTO public.sessions (customer_id, token) VALUES (1, 'live-session-1'), (2, 'live-session-2');
INSERT INTO orders.orders (customer_id, total) VALUES (1, 42.00), (2, 17.50), (3, 99.99), (1, 5.25);
"""
)

STAGING_ORDERS = (
    ORDERS_SCHEMA
    + """
INSERT INTO public.customers (name, email) VALUES ('Stale Test', 'stale@staging.example');
INSERT INTO orders.orders (customer_id, total) VALUES (1, 1.00);
"""
)

BILLING = """
CREATE TABLE public.invoices (id serial PRIMARY KEY, amount numeric(10, 2) NOT NULL);
INSERT INTO public.invoices (amount) VALUES (120.00), (80.00);
"""

CLUSTER_DATA = {
    "prod-orders": PRODUCTION_ORDERS,
    "staging-orders": STAGING_ORDERS,
    "prod-billing": BILLING,
    "dr-orders": PRODUCTION_ORDERS,
}
