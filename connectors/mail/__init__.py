"""Mail sources: headers (raw header bytes -> MessageMeta), subjects, folders (which to read),
imap and imap_fetch (a server), maildir (a folder on disk)."""
