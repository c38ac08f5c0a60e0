-- The founding document, line by line (issue 23).
--
-- `locations.slug` is required (the shop's URLs and the catalog file name locations by it), but
-- the founding document's `locations` has no slug: an INSERT written to the document's DDL must
-- still work. A row inserted without one gets a slug made from its name (lower case, runs of
-- anything but a-z and 0-9 as one dash, 3 to 50 characters, `-2`, `-3`, … when taken), before
-- the NOT NULL and CHECK constraints look at it.
create function locations_default_slug() returns trigger
language plpgsql as $$
declare
    base text;
    candidate text;
    n integer := 1;
begin
    if new.slug is not null and new.slug <> '' then
        return new;
    end if;
    base := trim(both '-' from regexp_replace(lower(new.name), '[^a-z0-9]+', '-', 'g'));
    if length(base) < 3 then
        base := trim(both '-' from 'location-' || base);
    end if;
    base := trim(both '-' from left(base, 44));
    candidate := base;
    while exists (select 1 from locations where slug = candidate) loop
        n := n + 1;
        candidate := base || '-' || n;
    end loop;
    new.slug := candidate;
    return new;
end
$$;

create trigger locations_default_slug
    before insert on locations
    for each row
    when (new.slug is null or new.slug = '')
    execute function locations_default_slug();
