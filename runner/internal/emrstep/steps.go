package emrstep

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// commandRunner is EMR's built-in JAR that runs a command on the master node.
const commandRunner = "command-runner.jar"

// stepConfigs turns the activity's steps into EMR step configurations. defaultAction applies to
// steps without action_on_failure: TERMINATE_CLUSTER on a transient cluster (nothing else can
// use it), CONTINUE on an existing one (other work may share it).
func stepConfigs(steps []definition.EMRStep, defaultAction types.ActionOnFailure) []types.StepConfig {
	out := make([]types.StepConfig, len(steps))
	for i, s := range steps {
		action := defaultAction
		if s.ActionOnFailure != "" {
			action = types.ActionOnFailure(s.ActionOnFailure)
		}
		out[i] = types.StepConfig{Name: aws.String(s.Name), ActionOnFailure: action, HadoopJarStep: jarStep(&s)}
	}
	return out
}

func jarStep(s *definition.EMRStep) *types.HadoopJarStepConfig {
	switch {
	case len(s.Command) > 0:
		return &types.HadoopJarStepConfig{Jar: aws.String(commandRunner), Args: s.Command}
	case s.Streaming != nil:
		return &types.HadoopJarStepConfig{Jar: aws.String(commandRunner), Args: streamingArgs(s.Streaming)}
	case len(s.Spark) > 0:
		return &types.HadoopJarStepConfig{Jar: aws.String(commandRunner), Args: append([]string{"spark-submit"}, s.Spark...)}
	default:
		j := s.Jar
		c := &types.HadoopJarStepConfig{Jar: aws.String(j.Jar), Args: j.Args}
		if j.MainClass != "" {
			c.MainClass = aws.String(j.MainClass)
		}
		return c
	}
}

// streamingArgs is the hadoop-streaming command line. The generic option -files must come before
// the streaming options. Without a reducer Hadoop uses its identity reducer, so the output is
// the mapper's output sorted by key, as in local mode.
func streamingArgs(st *definition.StreamingStep) []string {
	args := []string{"hadoop-streaming"}
	if len(st.Files) > 0 {
		args = append(args, "-files", strings.Join(st.Files, ","))
	}
	args = append(args, "-mapper", st.Mapper)
	if st.Reducer != "" {
		args = append(args, "-reducer", st.Reducer)
	}
	for _, in := range st.Input {
		args = append(args, "-input", in)
	}
	return append(args, "-output", st.Output)
}
