package streamput_test

import (
	"context"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/streamput"
)

func kinesisClient(ctx context.Context, s awsclient.Settings) (streamput.Kinesis, error) {
	c, err := awsclient.New(ctx, s)
	if err != nil {
		return nil, err
	}
	return c.Kinesis(), nil
}
