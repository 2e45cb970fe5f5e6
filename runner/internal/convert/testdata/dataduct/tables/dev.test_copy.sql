CREATE TABLE dev.test_copy (
    id INTEGER PRIMARY KEY,
    description VARCHAR(255)
);
