-- The scheduled e-mail reports that were sent, one row per kind and period. An instance sends a
-- period only when no row says it was sent, under an advisory lock, and adds the row in the
-- transaction that holds the lock: two instances never send the same period twice.
CREATE TABLE sent_reports (
    kind text NOT NULL CHECK (kind IN ('weekly', 'monthly')),
    period_start date NOT NULL,
    period_end date NOT NULL,
    products text[] NOT NULL,
    recipients integer NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, period_start, period_end)
);
