package mqtt

// readFirstByte is the portable way to wait for readability without a
// buffer: a one-byte read into the connection's own array, which the
// burst that follows puts in front of its pooled buffer. It serves
// connections that are not plain sockets (TLS, wrappers) and systems
// without the raw peek, and reads the byte that tells a PROXY header from
// a CONNECT. With a byte already in hand it returns at once: the burst
// goes on from that byte (holding its buffer while the rest of the frame
// comes, which only happens on this portable path, before CONNECT).
func (c *conn) readFirstByte() error {
	if c.hasFirst {
		return nil
	}
	for {
		n, err := c.nc.Read(c.first[:])
		if n == 1 {
			c.hasFirst = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}
