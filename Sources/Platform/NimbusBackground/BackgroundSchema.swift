/// Where one service keeps its background-work tables: `<schema>.worker_leases` and
/// `<schema>.outbox`, created by that service's own migration (copy `migrationSQL` into
/// `Migrations/<service>/`), so each service's login role owns them and no other can touch
/// them. `service` names the replica's work in logs, lease holders and delivered events.
public struct BackgroundSchema: Sendable, Hashable {
    public let schema: String
    public let service: String

    /// `schema` must be a plain lowercase SQL identifier: it is spliced into statements.
    public init(schema: String, service: String) {
        precondition(Self.isIdentifier(schema), "background schema '\(schema)' is not a plain SQL identifier")
        self.schema = schema
        self.service = service
    }

    public var leasesTable: String { "\(schema).worker_leases" }
    public var outboxTable: String { "\(schema).outbox" }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, (0x61...0x7a).contains(first) || first == 0x5f, text.utf8.count <= 63 else { return false }
        return text.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f }
    }

    /// The tables, for a service's migration (run with `search_path` set to the schema, as the
    /// migrator does) and for tests.
    public static let migrationSQL = """
        -- Leases: one holder per name at a time (leader election across replicas); the holder
        -- renews before expires_at, anyone may take a name whose lease expired.
        CREATE TABLE worker_leases (
            name        text        NOT NULL,
            holder      text        NOT NULL,
            expires_at  timestamptz NOT NULL,
            CONSTRAINT worker_leases_pkey PRIMARY KEY (name)
        );

        -- Messages written in the business transaction that produced them and delivered by a
        -- relay afterwards (at least once; receivers skip duplicates by event_id). A relay claims
        -- a batch until claimed_until; a relay that crashed loses its claim when it expires.
        CREATE TABLE outbox (
            id               bigint      GENERATED ALWAYS AS IDENTITY,
            event_id         uuid        NOT NULL DEFAULT gen_random_uuid(),
            topic            text        NOT NULL,
            payload          jsonb       NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now(),
            next_attempt_at  timestamptz NOT NULL DEFAULT now(),
            claimed_until    timestamptz,
            attempts         integer     NOT NULL DEFAULT 0,
            last_error       text        NOT NULL DEFAULT '',
            delivered_at     timestamptz,
            CONSTRAINT outbox_pkey PRIMARY KEY (id),
            CONSTRAINT outbox_event_id_unique UNIQUE (event_id)
        );
        CREATE INDEX outbox_pending ON outbox (topic, next_attempt_at, id) WHERE delivered_at IS NULL;
        """
}
