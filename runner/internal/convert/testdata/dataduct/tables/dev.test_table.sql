CREATE TABLE dev.test_table (
    id INTEGER PRIMARY KEY,
    description VARCHAR(255)
);
