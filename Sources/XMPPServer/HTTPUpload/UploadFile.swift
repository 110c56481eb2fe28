#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
private let systemClose = Glibc.close
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
private let systemClose = Darwin.close
#endif
import NIOConcurrencyHelpers
import NIOCore

/// A file descriptor for one upload or download, used from blocking jobs on the thread pool, never from an event loop.
/// Its operations take a lock, so a close cannot overtake a write still running on another thread (and a write after
/// the close fails instead of reaching whatever the number was given to next).
final class UploadFile: @unchecked Sendable {
    private let descriptor: CInt
    private let lock = NIOLock()
    private var isClosed = false

    private init(descriptor: CInt) {
        self.descriptor = descriptor
    }

    /// Creates `path` for writing, readable by the server's user only; fails if it exists.
    static func create(_ path: String) throws -> UploadFile {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw UploadFileError(operation: "create \(path)", code: errno) }
        return UploadFile(descriptor: descriptor)
    }

    /// Opens `path` for reading.
    static func openForReading(_ path: String) throws -> UploadFile {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw UploadFileError(operation: "open \(path)", code: errno) }
        return UploadFile(descriptor: descriptor)
    }

    /// Writes all of `buffer`.
    func write(_ buffer: ByteBuffer) throws {
        try lock.withLock {
        guard !isClosed else { throw UploadFileError(operation: "write after close", code: EBADF) }
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw UploadFileError(operation: "write", code: errno)
                }
                offset += written
            }
        }
        }
    }

    /// Reads up to `count` bytes at `offset`.
    func read(at offset: Int, count: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try lock.withLock {
        guard !isClosed else { throw UploadFileError(operation: "read after close", code: EBADF) }
        var buffer = allocator.buffer(capacity: count)
        let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            while true {
                let result = pread(descriptor, bytes.baseAddress!, count, off_t(offset))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw UploadFileError(operation: "read", code: errno)
                }
                return result
            }
        }
        guard read > 0 else { throw UploadFileError(operation: "read past the end", code: 0) }
        return buffer
        }
    }

    /// Flushes to disk (before the upload is acknowledged).
    func synchronize() throws {
        try lock.withLock {
            guard !isClosed, fsync(descriptor) == 0 else { throw UploadFileError(operation: "fsync", code: errno) }
        }
    }

    func close() {
        lock.withLock {
            guard !isClosed else { return }
            isClosed = true
            _ = systemClose(descriptor)
        }
    }

    deinit { close() }
}

/// A failed file operation, with its errno.
struct UploadFileError: Error, CustomStringConvertible {
    var operation: String
    var code: CInt

    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}
