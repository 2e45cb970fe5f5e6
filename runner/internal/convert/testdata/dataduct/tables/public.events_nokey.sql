CREATE TABLE public.events_nokey (
    ts TIMESTAMP,
    name VARCHAR(64)
);
