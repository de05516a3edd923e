package cluster

import "context"

// KafkaClient is what a request's connection says about its client: the
// request header's client id and the peer's host. The group coordinator
// shows them in DescribeGroups and builds member ids from the client id,
// as Kafka does.
type KafkaClient struct {
	ClientID string
	Host     string
}

type kafkaClientKey struct{}

// WithKafkaClient returns ctx carrying c, for Kafka.Handle.
func WithKafkaClient(ctx context.Context, c KafkaClient) context.Context {
	return context.WithValue(ctx, kafkaClientKey{}, c)
}

// KafkaClientFrom returns the client ctx carries, or the zero value.
func KafkaClientFrom(ctx context.Context) KafkaClient {
	c, _ := ctx.Value(kafkaClientKey{}).(KafkaClient)
	return c
}
