-- 10 M charges over 100 merchants and 100 000 customer accounts: the ledger the check is measured on.
\timing on
SET synchronous_commit = off;
INSERT INTO merchants (id, name) SELECT 'm_' || m, 'merchant ' || m FROM generate_series(0, 99) m;
INSERT INTO accounts (merchant_id, id, kind, currency)
SELECT 'm_' || m, a.id, a.kind, 'usd' FROM generate_series(0, 99) m
 CROSS JOIN (VALUES ('balance:usd', 'merchant_balance'), ('external:usd', 'external')) a (id, kind);
INSERT INTO accounts (merchant_id, id, currency, balance)
SELECT 'm_' || m, 'acct_' || a, 'usd', 1000000000 FROM generate_series(0, 99) m, generate_series(0, 999) a;
INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
SELECT 'm_' || m, 'le_d' || side || '_' || a, CASE side WHEN 0 THEN 'acct_' || a ELSE 'external:usd' END,
       CASE side WHEN 0 THEN 1000000000 ELSE -1000000000 END, 'usd', 'deposit', 'dep_' || a
  FROM generate_series(0, 99) m, generate_series(0, 999) a, generate_series(0, 1) side;
-- charge i: merchant i % 100, account (i / 100) % 1000, amount 1 + i % 100; one in 97 stays authorised.
INSERT INTO charges (merchant_id, id, source_account_id, amount, currency, status, amount_captured)
SELECT 'm_' || (i % 100), 'ch_' || i, 'acct_' || ((i / 100) % 1000), 1 + i % 100, 'usd',
       CASE WHEN i % 97 = 0 THEN 'authorized' ELSE 'succeeded' END, CASE WHEN i % 97 = 0 THEN 0 ELSE 1 + i % 100 END
  FROM generate_series(1, 10000000) i;
INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
SELECT 'm_' || (i % 100), 'le_c' || side || '_' || i, CASE side WHEN 0 THEN 'acct_' || ((i / 100) % 1000) ELSE 'balance:usd' END,
       CASE side WHEN 0 THEN -(1 + i % 100) ELSE 1 + i % 100 END, 'usd', 'charge', 'ch_' || i
  FROM generate_series(1, 10000000) i, generate_series(0, 1) side WHERE i % 97 <> 0;
UPDATE accounts a SET balance = a.balance - c.captured, held = coalesce(c.held, 0)
  FROM (SELECT merchant_id, source_account_id, sum(amount_captured) AS captured,
               sum(amount - amount_captured) FILTER (WHERE status = 'authorized') AS held
          FROM charges GROUP BY 1, 2) c
 WHERE a.merchant_id = c.merchant_id AND a.id = c.source_account_id;
INSERT INTO balance_totals (merchant_id, currency, slot, available, pending)
SELECT merchant_id, 'usd', 0, sum(amount_captured), coalesce(sum(amount - amount_captured) FILTER (WHERE status = 'authorized'), 0)
  FROM charges GROUP BY 1;
VACUUM ANALYZE;
SELECT count(*) AS charges FROM charges;
SELECT count(*) AS entries FROM ledger_entries;
