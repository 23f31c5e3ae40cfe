import Foundation
import NimbusPostgres

/// Messages for other services, written in the same transaction as the change they report, so
/// a change and its message commit together or not at all. An `OutboxRelay` delivers them.
public struct Outbox: Sendable {
    public let schema: BackgroundSchema

    public init(schema: BackgroundSchema) {
        self.schema = schema
    }

    /// Appends a message inside the caller's transaction. `eventID` is what receivers
    /// deduplicate by (delivery is at least once).
    public func append<Payload: Encodable>(_ payload: Payload, topic: String, eventID: UUID = UUID(),
                                           in connection: PostgresConnection) async throws {
        _ = try await connection.query(
            "INSERT INTO \(schema.outboxTable) (event_id, topic, payload) VALUES ($1::uuid, $2, $3::jsonb)",
            binds: [eventID, topic, try PostgresJSONB(encoding: payload)])
    }
}

/// One message as the relay hands it to a deliverer.
public struct OutboxMessage: Sendable {
    public var id: Int64
    public var eventID: String
    public var topic: String
    /// The JSON the message was appended with.
    public var payload: PostgresJSONB
    public var createdAt: Date
    /// Failed attempts so far.
    public var attempts: Int

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try payload.decode(type)
    }
}
