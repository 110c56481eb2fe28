import Foundation
import GRDB
import XMPPServerKernel

/// ``ServiceRecordStore`` in SQLite: one row per (service, id), the record as a blob.
struct SQLiteServiceRecordStore: ServiceRecordStore {
    let pool: DatabasePool

    func records(of service: String) async throws -> [(id: String, data: [UInt8])] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, data FROM service_record WHERE service = ? ORDER BY id", arguments: [service])
                .map { row in (id: row["id"] as String, data: Array(row["data"] as Data)) }
        }
    }

    func save(_ data: [UInt8], id: String, of service: String) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO service_record (service, id, data) VALUES (?, ?, ?)
                ON CONFLICT (service, id) DO UPDATE SET data = excluded.data
                """, arguments: [service, id, Data(data)])
        }
    }

    func delete(id: String, of service: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM service_record WHERE service = ? AND id = ?", arguments: [service, id])
        }
    }
}
