import Foundation
import GRDB
import XMPPServerKernel

/// ``RoomStore`` in SQLite: one row per persistent room, its record as JSON.
struct SQLiteRoomStore: RoomStore {
    let pool: DatabasePool

    func rooms(on domain: String) async throws -> [StoredRoom] {
        let rows = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT record FROM muc_room WHERE domain = ? ORDER BY jid", arguments: [domain])
        }
        let decoder = JSONDecoder()
        return try rows.map { try decoder.decode(StoredRoom.self, from: Data($0.utf8)) }
    }

    func save(_ room: StoredRoom) async throws {
        let record = String(decoding: try JSONEncoder().encode(room), as: UTF8.self)
        let domain = room.jid.split(separator: "@", maxSplits: 1).last.map(String.init) ?? room.jid
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO muc_room (jid, domain, record) VALUES (?, ?, ?)
                ON CONFLICT (jid) DO UPDATE SET record = excluded.record
                """, arguments: [room.jid, domain, record])
        }
    }

    func delete(room jid: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM muc_room WHERE jid = ?", arguments: [jid])
        }
    }
}
