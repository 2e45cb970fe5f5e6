CREATE TABLE staging.orders (
    order_id BIGINT,
    customer_id BIGINT,
    amount DECIMAL(12, 2),
    PRIMARY KEY (order_id)
);
