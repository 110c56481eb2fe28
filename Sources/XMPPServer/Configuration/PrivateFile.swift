import Foundation

/// Files only the server's user may read (the server secret, a generated private key): created with mode 0600 from
/// the first byte under a temporary name, flushed, then renamed into place, so nobody else can ever read them and
/// nobody finds one half-written.
enum PrivateFile {
    /// Writes `bytes` to `path` that way; throws ``PrivateFileError`` naming the file on failure.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".new"
        unlink(temporary)   // a leftover of a crash; O_EXCL below refuses anything that appears meanwhile
        let descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw PrivateFileError(path: temporary, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let flushed = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, flushed, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw PrivateFileError(path: path, reason: reason)
        }
    }
}

/// A private file could not be written.
struct PrivateFileError: Error, CustomStringConvertible {
    /// The file.
    var path: String
    /// The system's reason.
    var reason: String

    var description: String { "cannot write \(path): \(reason)" }
}
