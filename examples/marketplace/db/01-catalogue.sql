CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL);
INSERT INTO products (name, price_cents) VALUES ('anchor', 4200), ('rope', 1299), ('lantern', 2500);
