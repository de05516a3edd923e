// Package kafkacodec is Tributary's Kafka wire protocol: framing, request
// headers, request bodies decoded into kmsg types, response frames, the
// advertised API-version table, and RecordBatch v2 (build, parse, CRC-32C,
// compression, the murmur2 partitioner).
//
// It never touches sockets or storage: it works on byte slices that the
// wire package read, and returns byte slices that wire writes. It never
// logs.
//
// # Requests
//
// A connection reads one frame (FrameLen, checked against its own limit
// before it allocates), splits the header from the body with
// ParseRequestHeader, and decodes the body with DecodeRequest. An
// ApiVersions request above our maximum parses but does not decode: the
// connection answers it with AppendApiVersionsResponse (KIP-511). Every
// other key or version outside Versions() is an error wrapping
// ErrUnsupported; bytes that do not hold the request they claim are an
// error wrapping ErrMalformed.
//
// Decoders never hand untrusted bytes to kmsg's decoders. kmsg's generated
// ReadFrom loops over tagged-field counts without checking the bytes
// left, so a 7-byte ApiVersions v3 body keeps a core busy for minutes.
// Our decoders (one file per API key, 00_produce.go … 60_describe_cluster.go,
// on the bounded reader of reader.go) check every count and length
// against the bytes that remain before they loop or allocate, so the work
// is linear in the input and no input makes them panic. What they
// allocate is bounded by the body's size: each array element costs one
// kmsg struct and needs a minimum number of body bytes, so a body of
// empty elements costs at most about 24 bytes per body byte (plus a fixed
// few hundred bytes); FuzzDecodeRequest holds them to 32 plus 2 KiB.
//
// kmsg's encoders only write, so responses are built with kmsg types and
// framed by AppendResponse.
//
// # Buffer ownership
//
// Decoded byte fields (Produce's Records, group protocol metadata and
// member assignments) alias the frame: they are valid until the frame's
// buffer goes back to the pool, and whoever keeps one longer copies it.
// Strings (topic names, group and member ids, the client id) are copies,
// so they may outlive the frame. Response functions append to dst and
// return the extended slice, like append.
//
// # Concurrency
//
// Every function is safe for concurrent use; none keeps state between
// calls.
package kafkacodec
