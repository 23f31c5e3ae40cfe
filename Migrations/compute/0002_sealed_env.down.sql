-- Going back would need the key to unseal: refuse while sealed environments exist rather
-- than drop them (instances would relaunch without their environment).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM instances WHERE env_sealed IS NOT NULL) THEN
        RAISE EXCEPTION 'compute.instances has sealed environments; they cannot be unsealed in SQL';
    END IF;
END $$;
DROP INDEX IF EXISTS instances_env_plain;
ALTER TABLE instances DROP CONSTRAINT IF EXISTS instances_env_sealed_alone;
ALTER TABLE instances DROP COLUMN IF EXISTS env_sealed;
