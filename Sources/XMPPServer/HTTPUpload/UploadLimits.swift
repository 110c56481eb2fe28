/// The bounds of the HTTP upload service (XEP-0363), from its config keys (docs/SECURITY.md).
struct UploadLimits: Sendable {
    /// `upload_max_file_bytes`: the largest file one slot may carry.
    var maxFileBytes: Int
    /// `upload_quota_bytes`: the bytes one account may keep stored (files and open slots together).
    var quotaBytes: Int
    /// `upload_max_pending_slots`: slots one account may hold before uploading into them.
    var maxPendingSlots: Int
    /// `upload_slot_timeout`: seconds a slot stays usable for its upload.
    var slotSeconds: Int
    /// `upload_expiry`: seconds an uploaded file is served before it is deleted.
    var expirySeconds: Int
    /// `upload_bytes_per_second`: how fast one upload connection is read.
    var bytesPerSecond: Int
}
