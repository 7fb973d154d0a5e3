// Package daemonjson reads, checks and edits Docker's daemon.json without
// disturbing a byte it does not have to.
//
// dockerd reads daemon.json with encoding/json: it accepts surrounding
// whitespace (and, from Docker 24.0, a UTF-8 byte order mark; before, it
// refuses one: the guard says so where dockerd cannot check a file itself), treats an empty file as an empty
// configuration, keeps the LAST of two duplicate keys, and refuses comments,
// trailing commas and keys it does not know. This package follows that reading
// and is stricter where an edit could otherwise be wrong:
//
//   - [Parse] accepts exactly the files dockerd would parse and refuses, with a
//     line and column, syntax errors, comments, trailing commas, duplicate keys
//     at any depth, a top level that is not an object, a "live-restore" that is
//     not a boolean, UTF-16 and other non-UTF-8 text, NUL bytes, nesting deeper
//     than encoding/json's limit, files larger than [MaxSize], and unrendered
//     templates (Jinja, ERB, Handlebars, Terraform markers outside string
//     values). Template-like markers inside string values are legal JSON and
//     are only reported as warnings: a Go template such as "{{.Name}}" in
//     log-opts is normal.
//   - [Doc.Set] and [Doc.Remove] edit one top-level member in place. Every byte
//     outside the edited span stays identical: a new member is appended after
//     the last one using its neighbours' indentation, separator and line
//     ending (CRLF files stay CRLF); a changed value replaces only the value's
//     bytes; a removed member takes with it exactly the separator an append
//     would have added, so Set followed by Remove gives back the original
//     bytes.
//
// Nothing in this package touches the disk: it takes and returns bytes.
package daemonjson
