-- The dashboard's trend reads (src/router/trends.rs) as psql runs them, each twice: the second
-- run of each is the warm figure. Windows: the last 30 days, 12 months, 6 months (fixed dates
-- here; the binary computes them from today in PKT).
\timing on
prepare paid_days(timestamptz) as select (paid_at at time zone 'Asia/Karachi')::date, sum(final_amount_pkr)::bigint, count(*) from orders where status in ('paid', 'processing', 'active') and paid_at >= $1 group by 1;
prepare placed_days(timestamptz) as select (created_at at time zone 'Asia/Karachi')::date, 0::bigint, count(*) from orders where created_at >= $1 group by 1;
prepare customers_days(timestamptz) as select (created_at at time zone 'Asia/Karachi')::date, 0::bigint, count(*) from users where created_at >= $1 group by 1;
prepare revenue_months(timestamptz) as select date_trunc('month', paid_at at time zone 'Asia/Karachi')::date, sum(final_amount_pkr)::bigint, count(*) from orders where status in ('paid', 'processing', 'active') and paid_at >= $1 group by 1;
prepare renewals_collected(timestamptz) as select date_trunc('month', paid_at at time zone 'Asia/Karachi')::date, 0::bigint, count(*) from orders where kind = 'renewal' and status in ('paid', 'processing', 'active') and paid_at >= $1 group by 1;
prepare renewals_lapsed(timestamptz) as select date_trunc('month', cancelled_at at time zone 'Asia/Karachi')::date, 0::bigint, count(*) from orders where kind = 'renewal' and status in ('cancelled', 'expired') and cancelled_at >= $1 group by 1;
execute paid_days(now() - interval '30 days');
execute placed_days(now() - interval '30 days');
execute customers_days(now() - interval '30 days');
execute revenue_months(now() - interval '12 months');
execute renewals_collected(now() - interval '6 months');
execute renewals_lapsed(now() - interval '6 months');
select plan_id, location_id, count(*) from services where status = 'active' group by plan_id, location_id;
execute paid_days(now() - interval '30 days');
execute placed_days(now() - interval '30 days');
execute customers_days(now() - interval '30 days');
execute revenue_months(now() - interval '12 months');
execute renewals_collected(now() - interval '6 months');
execute renewals_lapsed(now() - interval '6 months');
select plan_id, location_id, count(*) from services where status = 'active' group by plan_id, location_id;
