package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"tributary/cluster"
)

// runCtl is `tributary ctl members|remove ID|transfer [ID]`: cluster
// administration through a running node's HTTP admin endpoint. Any node
// answers; the raft leader does the work.
func runCtl(args []string, stdout, stderr io.Writer) int {
	fs, addr, rest, code := parseAdminArgs("ctl", args, stderr, ctlUsage)
	if rest == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	base := "http://" + addr
	var err error
	switch {
	case rest[0] == "members" && len(rest) == 1:
		err = printMembers(ctx, base, stdout)
	case rest[0] == "remove" && len(rest) == 2:
		err = adminRequest(ctx, http.MethodDelete, base+"/admin/members/"+url.PathEscape(rest[1]), nil, nil)
		if err == nil {
			fmt.Fprintf(stdout, "removed %s\n", rest[1])
		}
	case rest[0] == "transfer" && len(rest) <= 2:
		target := ""
		if len(rest) == 2 {
			target = rest[1]
		}
		err = adminRequest(ctx, http.MethodPost, base+"/admin/leadership/transfer?to="+url.QueryEscape(target), nil, nil)
		if err == nil {
			fmt.Fprintln(stdout, "leadership transferred")
		}
	default:
		fs.Usage()
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "tributary: ctl: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func ctlUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage:
  tributary ctl [--http-addr HOST:PORT] members        list the members: role, liveness, Kafka broker, applied index and lag
  tributary ctl [--http-addr HOST:PORT] remove ID      take node ID out of the cluster (its sessions end, wills fire)
  tributary ctl [--http-addr HOST:PORT] transfer [ID]  hand raft leadership to ID (or any caught-up voter), before stopping the leader

`)
	fs.PrintDefaults()
}

func printMembers(ctx context.Context, base string, out io.Writer) error {
	var ms []cluster.MemberStatus
	if err := adminRequest(ctx, http.MethodGet, base+"/admin/members", nil, &ms); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tLIVE\tREADY\tBROKER\tKAFKA\tRAFT\tAPPLIED\tLAG\tLAST CONTACT")
	for _, m := range ms {
		contact := "never"
		if m.LastContactMillis >= 0 {
			contact = fmt.Sprintf("%dms", m.LastContactMillis)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%d\t%s\t%s\t%d\t%d\t%s\n",
			m.ID, m.Role, m.Live, m.Ready, m.BrokerID, m.KafkaAddr, m.RaftAddr, m.AppliedIndex, m.Lag, contact)
	}
	return tw.Flush()
}
