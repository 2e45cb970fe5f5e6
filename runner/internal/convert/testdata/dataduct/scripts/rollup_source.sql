SELECT day, sum(amount) AS total FROM staging.orders_daily GROUP BY day;
