package conn

import (
	"strings"
	"testing"
)

// The mapping from RDS-style JSON to a URI, checked exactly; secret_test.go opens such secrets
// on the real PostgreSQL server.
func TestParseSecretValue_JSONBecomesTheEquivalentURI(t *testing.T) {
	for _, tc := range []struct{ name, value, wantURL string }{
		{"postgres defaults: port 5432, database postgres",
			`{"engine":"postgres","host":"db.example.com","username":"etl","password":"pw"}`,
			"postgres://etl:pw@db.example.com:5432/postgres"},
		{"postgresql engine, numeric port, dbname",
			`{"engine":"postgresql","host":"db.example.com","port":6543,"username":"etl","password":"pw","dbname":"dw"}`,
			"postgres://etl:pw@db.example.com:6543/dw"},
		{"aurora-postgresql engine, null port",
			`{"engine":"aurora-postgresql","host":"h","port":null,"username":"etl","password":"pw","dbname":"dw"}`,
			"postgres://etl:pw@h:5432/dw"},
		{"redshift defaults: port 5439, database dev, sslmode require",
			`{"engine":"redshift","host":"c.example.com","username":"etl","password":"pw","dbClusterIdentifier":"c"}`,
			"postgres://etl:pw@c.example.com:5439/dev?sslmode=require"},
		{"redshift engine in capitals, port as a string",
			`{"engine":"Redshift","host":"c.example.com","port":"5440","username":"etl","password":"pw","dbname":"analytics"}`,
			"postgres://etl:pw@c.example.com:5440/analytics?sslmode=require"},
		{"special characters are escaped",
			`{"engine":"postgres","host":"h","username":"e@t l","password":"p@ss:/w%rd?#","sslmode":"verify-full"}`,
			"postgres://e%40t%20l:p%40ss%3A%2Fw%25rd%3F%23@h:5432/postgres?sslmode=verify-full"},
		{"IPv6 host",
			`{"engine":"postgres","host":"::1","username":"etl","password":"pw"}`,
			"postgres://etl:pw@[::1]:5432/postgres"},
		{"a URI is taken as configured",
			"  redshift://etl:pw@c.example.com/dev?sslmode=disable\n",
			"postgres://etl:pw@c.example.com:5439/dev?sslmode=disable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSecretValue(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if s.pgxURL != tc.wantURL {
				t.Fatalf("pgxURL = %s, want %s", s.pgxURL, tc.wantURL)
			}
		})
	}
}

func TestParseSecretValue_IAMURIKeepsItsIAMLogin(t *testing.T) {
	s, err := parseSecretValue("redshift://c.example.com/dev?iam=true&cluster_identifier=c&db_user=etl")
	if err != nil {
		t.Fatal(err)
	}
	if s.iam == nil || s.iam.clusterID != "c" || s.iam.dbUser != "etl" || s.iam.database != "dev" {
		t.Fatalf("iam = %+v", s.iam)
	}
}

func TestParseSecretValue_BadPortsAndEngines(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`{"engine":"postgres","host":"h","port":0,"username":"u","password":"pw"}`, `"port" "0" is not a port number`},
		{`{"engine":"postgres","host":"h","port":5432.5,"username":"u","password":"pw"}`, `"port" "5432.5" is not a port number`},
		{`{"engine":"postgres","host":"h","port":true,"username":"u","password":"pw"}`, `"port" is neither a number nor a string`},
		{`{"engine":"postgres","host":"h","username":"u","password":"pw","sslmode":"sometimes"}`, `sslmode "sometimes" is not one of`},
		{`{"engine":"sqlserver","host":"h","username":"u","password":"pw"}`, `engine "sqlserver"`},
		{`{"engine":"postgres","host":5,"username":"u","password":"pw"}`, "not valid JSON"},
	} {
		_, err := parseSecretValue(tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseSecretValue(%s): err = %v, want %q", tc.value, err, tc.want)
		}
	}
}

func TestParseSecretRef_KeepsTheSecretsRegion(t *testing.T) {
	ref, err := parseSecretRef("arn:aws-us-gov:secretsmanager:us-gov-east-1:123456789012:secret:a/b_c+d=e.f@g-AbCdEf")
	if err != nil {
		t.Fatal(err)
	}
	if ref.region != "us-gov-east-1" {
		t.Fatalf("region = %q", ref.region)
	}
}
