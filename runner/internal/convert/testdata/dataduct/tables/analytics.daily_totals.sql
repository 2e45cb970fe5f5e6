CREATE TABLE analytics.daily_totals (
    day DATE PRIMARY KEY,
    total DECIMAL(14, 2)
);
