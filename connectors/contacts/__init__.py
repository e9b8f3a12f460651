"""Address book sources: vcard (vCard text -> Cards), vdir (a .vcf file or a folder of them),
carddav (a CardDAV server)."""
