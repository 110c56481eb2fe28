import Crypto
import Foundation
import NIOCore
import NIOPosix

/// The file being sent: read a chunk at a time off the event loops, its SHA-256 computed once for the offer.
struct FileSource: Sendable {
    let path: String
    let size: Int64
    /// Bytes per read.
    static let chunkSize = 65_536

    /// The regular file at `path`.
    /// - Throws: ``FileTransferError/cannotAccessFile(_:)`` when there is none or it cannot be read.
    init(path: String) throws {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw FileTransferError.cannotAccessFile("\(path): \(error.localizedDescription)")
        }
        guard (attributes[.type] as? FileAttributeType) == .typeRegular, let size = (attributes[.size] as? NSNumber)?.int64Value,
              FileManager.default.isReadableFile(atPath: path) else {
            throw FileTransferError.cannotAccessFile("\(path) is not a readable regular file")
        }
        self.path = path
        self.size = size
    }

    /// The file's SHA-256 (XEP-0300), read through once.
    func sha256() async throws -> Data {
        var hash = SHA256()
        try await read { chunk in chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) } }
        return Data(hash.finalize())
    }

    /// Hands every chunk to `body`, in order, then stops; `size` bytes at most.
    func read(_ body: (ByteBuffer) async throws -> Void) async throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileTransferError.cannotAccessFile("cannot open \(path)") }
        defer { try? handle.close() }
        var remaining = size
        while remaining > 0 {
            try Task.checkCancellation()
            let wanted = Int(min(Int64(Self.chunkSize), remaining))
            let data = try await NIOThreadPool.singleton.runIfActive { try handle.read(upToCount: wanted) ?? Data() }
            guard !data.isEmpty else { throw FileTransferError.cannotAccessFile("\(path) became shorter while it was sent") }
            remaining -= Int64(data.count)
            try await body(ByteBuffer(bytes: data))
        }
    }
}

/// Where a received file goes: a temporary file beside the destination, hashed as it is written, checked against the
/// offer's size and hash at the end and only then moved into place (nothing is left behind on failure).
final class FileSink: @unchecked Sendable {
    // Used by one task at a time (the transfer's), so the mutable state needs no lock.
    let destination: String
    private let expected: FileDescription
    private let temporary: String
    private let handle: FileHandle
    private var hash = SHA256()
    private(set) var received: Int64 = 0

    /// Creates the temporary file for `destination`.
    /// - Throws: ``FileTransferError/cannotAccessFile(_:)`` when it cannot be created.
    init(destination: String, expected: FileDescription) throws {
        self.destination = destination
        self.expected = expected
        temporary = destination + ".part-" + UUID().uuidString.prefix(8)
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw FileTransferError.cannotAccessFile("cannot write \(destination)")
        }
        self.handle = handle
    }

    /// Whether every byte offered arrived.
    var isComplete: Bool { received >= expected.size }

    /// Writes one chunk.
    /// - Throws: ``FileTransferError/sizeMismatch(expected:received:)`` for more bytes than offered.
    func write(_ chunk: ByteBuffer) async throws {
        guard received + Int64(chunk.readableBytes) <= expected.size else {
            throw FileTransferError.sizeMismatch(expected: expected.size, received: received + Int64(chunk.readableBytes))
        }
        let data = Data(chunk.readableBytesView)
        hash.update(data: data)
        let handle = handle
        try await NIOThreadPool.singleton.runIfActive { try handle.write(contentsOf: data) }
        received += Int64(data.count)
    }

    /// Checks size and hash and moves the file into place.
    /// - Throws: ``FileTransferError/sizeMismatch(expected:received:)``, `.hashMismatch`, `.cannotAccessFile`.
    func finish() throws {
        try? handle.close()
        guard received == expected.size else {
            discard()
            throw FileTransferError.sizeMismatch(expected: expected.size, received: received)
        }
        if let sha256 = expected.sha256, Data(hash.finalize()) != sha256 {
            discard()
            throw FileTransferError.hashMismatch
        }
        // Only ever over a regular file (rename(2) replaces it at once); never a directory, never what a link points to.
        var isDirectory: ObjCBool = false
        let attributes = try? FileManager.default.attributesOfItem(atPath: destination)
        if FileManager.default.fileExists(atPath: destination, isDirectory: &isDirectory) && isDirectory.boolValue
            || (attributes?[.type] as? FileAttributeType).map({ $0 != .typeRegular }) == true {
            discard()
            throw FileTransferError.cannotAccessFile("\(destination) exists and is not a regular file")
        }
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw FileTransferError.cannotAccessFile("cannot move the file to \(destination): \(reason)")
        }
    }

    /// Removes what was written (a failed or cancelled transfer).
    func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: temporary)
    }
}
