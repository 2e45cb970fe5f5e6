DELETE FROM analytics.daily_totals WHERE day = CURRENT_DATE - 1;
INSERT INTO analytics.daily_totals SELECT CURRENT_DATE - 1, sum(amount) FROM staging.orders;
