\set id random(0, 999999)
UPDATE users SET name = 'lag-' || :id WHERE id = :id;
