# Configuration errors: a bad directive value stops httpd at start-up (and
# `apachectl configtest`) with a message that names the directive and the value, and a
# good configuration passes. Each case runs `apache2 -t` on a small configuration of its
# own that loads the module under test; the test server is not involved.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use File::Temp ();

my $HTTPD = '/usr/sbin/apache2';
my $SO = $ENV{POKETTO_SO};
my $MODS = '/usr/lib/apache2/modules';
my $dir = File::Temp::tempdir('poketto-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# configtest(LINES) -> (exit status, output)
sub configtest {
    my ($lines, $where) = @_;
    my $conf = "$dir/httpd.conf";
    open(my $fh, '>', $conf) or die "$conf: $!";
    print $fh <<"EOF";
ServerRoot "$dir"
ServerName localhost
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
Listen 127.0.0.1:1
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule dbd_module $MODS/mod_dbd.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule poketto_module "$SO"
DBDriver sqlite3
DBDParams "$dir/poketto.db"
EOF
    if (($where // '') eq 'location') {
        print $fh "<Location /api>\n    SetHandler poketto\n$lines\n</Location>\n";
    }
    else {
        print $fh "<Location /api>\n    SetHandler poketto\n</Location>\n$lines\n";
    }
    close $fh;
    my $out = `$HTTPD -t -f "$conf" 2>&1`;
    return ($? >> 8, $out);
}

SKIP: {
    skip 'POKETTO_SO is not set (run through tests/run-integration.sh)', 1 unless $SO && -f $SO;

    section 'a good configuration passes' => sub {
        my ($rc, $out) = configtest(join "\n",
            'PokettoFetchConcurrency 50', 'PokettoFetchPerHost 4',
            'PokettoVideoHosts default peertube.example.org',
            'PokettoFetchAllow 10.20.0.0/16 fd00:1::/64', 'PokettoFetchDeny 10.20.9.0/24',
            'PokettoTaskRetries 0', 'PokettoEngine Off', 'PokettoWsDetach Off', 'PokettoWsIoThreads 4',
            'PokettoEventRingSlots 4096', 'PokettoEventSlotSize 2048', 'PokettoEventQueue 128', 'PokettoEventRelay 1000',
            'PokettoSseHeartbeat 30', 'PokettoLongPollMaxWait 0', 'PokettoWriteGroup 8',
            'Mutex default', 'Mutex pthread poketto-sqlite');
        is($rc, 0, 'good: exit status 0') or diag($out);
        like($out, qr/Syntax OK/, 'good: Syntax OK');
    };

    my @bad = (
        [ 'PokettoFetchConcurrency 0', qr/PokettoFetchConcurrency takes a whole number from 1 to 5000, not '0'/ ],
        [ 'PokettoFetchConcurrency many', qr/PokettoFetchConcurrency takes a whole number .* not 'many'/ ],
        [ 'PokettoFetchPerHost 0', qr/PokettoFetchPerHost takes a whole number from 1 to 1000, not '0'/ ],
        [ 'PokettoFetchPerHost 4x', qr/PokettoFetchPerHost takes a whole number .* not '4x'/ ],
        [ 'PokettoFetchTimeout 0', qr/PokettoFetchTimeout takes a whole number from 1 to/ ],
        [ 'PokettoTaskLease 1', qr/PokettoTaskLease takes a whole number from 5 to/ ],
        [ 'PokettoFetchMaxSize 10', qr/PokettoFetchMaxSize takes a whole number from 1024 to/ ],
        [ 'PokettoVideoHosts youtube.com/embed', qr{PokettoVideoHosts: 'youtube\.com/embed' is not a host name} ],
        [ 'PokettoVideoHosts .example.org', qr{PokettoVideoHosts: '\.example\.org' is not a host name} ],
        [ 'PokettoVideoHosts https://vimeo.com', qr{PokettoVideoHosts: 'https://vimeo\.com' is not a host name} ],
        [ 'PokettoFetchAllow 10.0.0.0/33', qr{PokettoFetchAllow: '10\.0\.0\.0/33'} ],
        [ 'PokettoFetchAllow intranet', qr{PokettoFetchAllow: 'intranet'} ],
        [ 'PokettoFetchDeny 300.1.2.3/8', qr{PokettoFetchDeny: '300\.1\.2\.3/8'} ],
        [ 'PokettoEngine maybe', qr/PokettoEngine must be On or Off/ ],
        [ 'PokettoWsDetach sometimes', qr/PokettoWsDetach must be On or Off/ ],
        [ 'PokettoWsIoThreads 0', qr/PokettoWsIoThreads takes a whole number from 1 to 64, not '0'/ ],
        [ 'PokettoWsIoThreads 65', qr/PokettoWsIoThreads takes a whole number from 1 to 64, not '65'/ ],
        [ 'PokettoWsIoThreads two', qr/PokettoWsIoThreads takes a whole number from 1 to 64, not 'two'/ ],
        [ 'PokettoAuth ldap', qr/PokettoAuth takes 'builtin' or 'httpd'/ ],
        [ 'PokettoAllowedOrigins ftp://files.example', qr/PokettoAllowedOrigins: 'ftp:\/\/files\.example' is not an origin/ ],
        [ 'PokettoMaxBodySize -5', qr/PokettoMaxBodySize takes a whole number/ ],
        [ 'PokettoEventRingSlots 8', qr/PokettoEventRingSlots takes a whole number from 16 to 1048576, not '8'/ ],
        [ 'PokettoEventSlotSize 100', qr/PokettoEventSlotSize takes a whole number from 256 to 65536, not '100'/ ],
        [ 'PokettoEventRelay 5', qr/PokettoEventRelay takes a whole number from 10 to 60000, not '5'/ ],
        [ 'PokettoEventRelay sometimes', qr/PokettoEventRelay takes a whole number .* not 'sometimes'/ ],
        [ 'PokettoEventQueue lots', qr/PokettoEventQueue takes a whole number .* not 'lots'/ ],
        [ 'PokettoSseHeartbeat 0', qr/PokettoSseHeartbeat takes a whole number from 1 to 3600, not '0'/ ],
        [ 'PokettoLongPollMaxWait -1', qr/PokettoLongPollMaxWait takes a whole number/ ],
        [ 'PokettoWriteGroup 0', qr/PokettoWriteGroup takes a whole number from 1 to 1024, not '0'/ ],
        [ 'PokettoWriteGroup all', qr/PokettoWriteGroup takes a whole number .* not 'all'/ ],
    );
    for my $case (@bad) {
        my ($line, $re) = @$case;
        section "refused: $line" => sub {
            my ($rc, $out) = configtest($line);
            isnt($rc, 0, "'$line': httpd refuses to start");
            like($out, $re, "'$line': the message names the directive and the value")
                or diag($out);
        };
    }

    section 'server-wide directives inside <Location>' => sub {
        my ($rc, $out) = configtest('PokettoFetchPerHost 3', 'location');
        isnt($rc, 0, 'PokettoFetchPerHost in <Location>: refused');
        like($out, qr/PokettoFetchPerHost .*not allowed|cannot occur within <Location>/,
             'PokettoFetchPerHost in <Location>: the message says where it belongs') or diag($out);
        ($rc, $out) = configtest('PokettoVideoHosts vimeo.com', 'location');
        isnt($rc, 0, 'PokettoVideoHosts in <Location>: refused');
        ($rc, $out) = configtest('PokettoEventRingSlots 128', 'location');
        isnt($rc, 0, 'PokettoEventRingSlots in <Location>: refused');
        ($rc, $out) = configtest('PokettoSseHeartbeat 5', 'location');
        is($rc, 0, 'PokettoSseHeartbeat in <Location>: allowed') or diag($out);
    };
}

done_testing;
