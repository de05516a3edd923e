package mqtt

// readFirstByte is the portable way to wait for readability without a
// buffer: a one-byte read into the connection's own array, which the
// burst that follows puts in front of its pooled buffer. It serves
// connections that are not plain sockets (TLS, wrappers) and systems
// without the raw peek.
func (c *conn) readFirstByte() error {
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
