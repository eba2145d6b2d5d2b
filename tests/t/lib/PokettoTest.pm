package PokettoTest;
# Helpers shared by the mod_poketto integration tests (t/*.t).
#
# Requests always go to 127.0.0.1 on the port Apache::Test chose. Credentials:
#   auth => 'alice' | 'bob'             the API tokens the admin CLI made before the run
#   auth => { token => 'pkt_...' }      any bearer token
#   auth => { cookie => 'v', csrf => 't' }  a session cookie (and X-CSRF-Token if csrf)
#   auth => { basic => ['carol','carolpw'] }
#
# Helpers that assert always make the same number of assertions whatever the server
# answers, so the pass/fail totals stay comparable between runs.
use strict;
use warnings;
use Exporter 'import';
use Apache::Test ();
use Apache::TestRequest ();
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Test::More ();
use Time::HiRes ();
use IO::Socket::INET ();
use URI::Escape qw(uri_escape_utf8);

our @EXPORT = qw(
    base port req json_of jenc problem_ok json_ok status_is
    token_of login save_item get_item item_ids list_all list_ids snapshot unchanged_ok
    uniq iso_ok is_bool_val json_type header_list raw_http location_id esc section
    fresh_connections user_view settle new_ua fork_clients join_clients
);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my $PORT = Apache::Test::vars('port');
sub port { $PORT }
sub base { "http://127.0.0.1:$PORT" }

my $UA = LWP::UserAgent->new(
    agent        => 'poketto-tests/1',
    max_redirect => 0,
    timeout      => 30,
    keep_alive   => 4,
);
$UA->no_proxy('127.0.0.1');

# after fork: do not share the parent's kept-alive connections
sub fresh_connections {
    require LWP::ConnCache;
    $UA->conn_cache(LWP::ConnCache->new(total_capacity => 4));
}

sub token_of {
    my $who = shift;
    my $t = $ENV{ 'POKETTO_' . uc($who) . '_TOKEN' };
    die "POKETTO_\U$who\E_TOKEN is not set (run tests/run-integration.sh)\n" unless $t;
    return $t;
}

sub esc { uri_escape_utf8(shift) }

sub jenc { $JSON->encode(shift) }

# req(METHOD, PATH, %opts) -> HTTP::Response
#   json => DATA (encoded, Content-Type application/json unless ct given), ua => an LWP UA
#   body => raw bytes, ct => content type, headers => { ... }, auth => see above
sub req {
    my ($method, $path, %o) = @_;
    my $url = $path =~ m{^https?://} ? $path : base() . $path;
    my $r = HTTP::Request->new($method => $url);
    my $auth = $o{auth};
    if (defined $auth) {
        $auth = { token => token_of($auth) } unless ref $auth;
        if ($auth->{token}) {
            $r->header(Authorization => "Bearer $auth->{token}");
        }
        if (defined $auth->{cookie}) {
            $r->header(Cookie => "poketto_session=$auth->{cookie}");
            $r->header('X-CSRF-Token' => $auth->{csrf}) if defined $auth->{csrf};
        }
        if ($auth->{basic}) {
            $r->header(Authorization => 'Basic ' .
                       encode_base64(join(':', @{ $auth->{basic} }), ''));
        }
    }
    if (exists $o{json}) {
        $r->content($JSON->encode($o{json}));
        $r->header('Content-Type' => $o{ct} // 'application/json');
    }
    elsif (defined $o{body}) {
        $r->content($o{body});
        $r->header('Content-Type' => $o{ct}) if defined $o{ct};
    }
    if ($o{headers}) {
        while (my ($k, $v) = each %{ $o{headers} }) { $r->header($k => $v) }
    }
    $r->header('Content-Length' => length($r->content // ''))
        if $method =~ /^(POST|PUT|PATCH)$/;
    return ($o{ua} // $UA)->request($r);
}

# new_ua(): a user agent with its own kept-alive connection. Several of them, warmed
# up while the others are open, are served by different children under prefork (a
# child holds one connection at a time) - for cross-process consistency checks.
sub new_ua {
    my $ua = LWP::UserAgent->new(agent => 'poketto-tests/1', max_redirect => 0,
                                 timeout => 30, keep_alive => 1);
    $ua->no_proxy('127.0.0.1');
    return $ua;
}

# decoded JSON body or undef
sub json_of {
    my $res = shift;
    my $c = $res->content;
    return undef unless defined $c && length $c;
    my $d = eval { $JSON->decode($c) };
    return $d;
}

sub _short {
    my $res = shift;
    my $c = $res->content // '';
    $c = substr($c, 0, 400) . '...' if length $c > 400;
    return $res->code . ' ' . ($res->header('Content-Type') // '-') . ' ' . $c;
}

# status_is(RES, STATUS, NAME): 1 assertion, shows the body on failure
sub status_is {
    my ($res, $status, $name) = @_;
    my $ok = Test::More::is($res->code, $status, "$name: status $status");
    Test::More::diag('  got: ' . _short($res)) unless $ok;
    return $ok;
}

# json_ok(RES, STATUS, NAME): 2 assertions (status, JSON content type + body); returns data
sub json_ok {
    my ($res, $status, $name) = @_;
    status_is($res, $status, $name);
    my $d = json_of($res);
    my $ok = Test::More::ok(
        ($res->header('Content-Type') // '') =~ m{^application/json\b}i && ref $d,
        "$name: application/json body");
    Test::More::diag('  got: ' . _short($res)) unless $ok;
    return $d;
}

# problem_ok(RES, STATUS, NAME, field => F, detail_like => qr//)
#   4 assertions (+1 with field, +1 with detail_like): status, content type, JSON with the
#   same status, non-empty title and detail. Returns the decoded problem (or {}).
sub problem_ok {
    my ($res, $status, $name, %o) = @_;
    status_is($res, $status, $name);
    Test::More::like($res->header('Content-Type') // '', qr{^application/problem\+json\b}i,
                     "$name: application/problem+json");
    my $d = json_of($res);
    $d = {} unless ref $d eq 'HASH';
    Test::More::is($d->{status}, $status, "$name: problem status member");
    my $ok = Test::More::ok(
        defined $d->{detail} && !ref $d->{detail} && length $d->{detail}
        && defined $d->{title} && !ref $d->{title} && length $d->{title},
        "$name: problem has title and detail");
    Test::More::diag('  got: ' . _short($res)) unless $ok;
    if (exists $o{field}) {
        Test::More::is($d->{field}, $o{field}, "$name: field is '$o{field}'");
    }
    if ($o{detail_like}) {
        Test::More::like($d->{detail} // '', $o{detail_like}, "$name: detail");
    }
    return $d;
}

# header_list(RES, NAME) -> all values of a header, split on commas
sub header_list {
    my ($res, $name) = @_;
    return map { s/^\s+|\s+$//gr } map { split /,/ } $res->header($name);
}

sub location_id {
    my ($res, $kind, $hdr) = @_;
    my $l = $res->header($hdr // 'Location') // '';
    return $l =~ m{^(?:https?://[^/]+)?/api/\Q$kind\E/(\d+)$} ? $1 : undef;
}

my $uniq = 0;
sub uniq {
    my $p = shift // 'u';
    return sprintf '%s%d%d%04d', $p, $$, time % 100000, ++$uniq;
}

# login(LOGIN, PASSWORD) -> { cookie, csrf, res, body } (no assertions)
sub login {
    my ($login, $pw) = @_;
    my $res = req(POST => '/api/session', json => { login => $login, password => $pw });
    my $d = json_of($res) // {};
    my ($cookie) = map { /^poketto_session=([^;]*)/ ? $1 : () } $res->header('Set-Cookie');
    return { cookie => $cookie, csrf => $d->{csrf_token}, res => $res, body => $d };
}

# save_item(AUTH, URL, %extra) -> (res, item-or-undef); no assertions
sub save_item {
    my ($auth, $url, %extra) = @_;
    my $res = req(POST => '/api/items', auth => $auth, json => { url => $url, %extra });
    my $d = json_of($res);
    return ($res, ref $d eq 'HASH' ? $d->{item} : undef);
}

sub get_item {
    my ($auth, $id) = @_;
    my $res = req(GET => "/api/items/$id", auth => $auth);
    return $res->code == 200 ? json_of($res) : undef;
}

# list_all(AUTH, QUERY) -> arrayref of items across all pages, or undef on any error
sub list_all {
    my ($auth, $query) = @_;
    my @items;
    my $cursor;
    for (1 .. 200) {
        my $q = $query // '';
        $q .= ($q ne '' ? '&' : '') . 'limit=50' unless $q =~ /(^|&)limit=/;
        $q .= '&cursor=' . esc($cursor) if defined $cursor;
        my $res = req(GET => "/api/items?$q", auth => $auth);
        return undef unless $res->code == 200;
        my $d = json_of($res);
        return undef unless ref $d eq 'HASH' && ref $d->{items} eq 'ARRAY';
        push @items, @{ $d->{items} };
        $cursor = $d->{next_cursor};
        return \@items unless defined $cursor;
    }
    return undef;
}

sub item_ids { [ map { $_->{id} } @{ $_[0] // [] } ] }

sub list_ids {
    my ($auth, $query) = @_;
    my $l = list_all($auth, $query);
    return $l ? item_ids($l) : undef;
}

# The members of an item that only the user changes. The task engine works in the
# background and changes state, error, updated and the page's fields at any time, so
# comparisons ("nothing changed") look at these only.
my @USER_FIELDS = qw(id url given_url title archived favorite progress tags created);
sub user_view {
    my $it = shift;
    return undef unless ref $it eq 'HASH';
    my %v = map { $_ => $it->{$_} } grep { exists $it->{$_} } @USER_FIELDS;
    $v{tags} = [ sort @{ $v{tags} } ] if ref $v{tags} eq 'ARRAY';
    return \%v;
}

# everything the user has: items (all states; user-owned members) and tags, as one
# canonical string
sub snapshot {
    my $auth = shift // 'alice';
    my $items = list_all($auth, 'state=all');
    my $tags = json_of(req(GET => '/api/tags', auth => $auth));
    return undef unless $items && ref $tags eq 'HASH';
    return $JSON->encode({
        items => [ map { user_view($_) } sort { $a->{id} <=> $b->{id} } @$items ],
        tags  => $tags->{tags},
    });
}

# settle(AUTH, IDS...): wait (at most 20 s) until the engine is done with the items
# (state no longer pending); returns true when all are. No assertions.
sub settle {
    my ($auth, @ids) = @_;
    my $deadline = time + 20;
    my %left = map { $_ => 1 } @ids;
    while (%left && time < $deadline) {
        for my $id (keys %left) {
            my $it = get_item($auth, $id);
            delete $left{$id} if !$it || ($it->{state} // '') ne 'pending';
        }
        Time::HiRes::sleep(0.2) if %left;
    }
    return !%left;
}

# unchanged_ok(BEFORE, NAME, AUTH): 1 assertion
sub unchanged_ok {
    my ($before, $name, $auth) = @_;
    my $now = snapshot($auth // 'alice');
    my $ok = Test::More::ok(defined $before && defined $now && $before eq $now,
                            "$name: nothing changed");
    unless ($ok) {
        Test::More::diag('  snapshot ' . (defined $now ? 'differs' : 'could not be read'));
    }
    return $ok;
}

sub iso_ok {
    my ($v, $name) = @_;
    Test::More::like($v // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/,
                     "$name is an ISO 8601 UTC time");
}

sub json_type {
    my $v = shift;
    return 'null' unless defined $v;
    return 'bool' if JSON::PP::is_bool($v);
    return 'object' if ref $v eq 'HASH';
    return 'array' if ref $v eq 'ARRAY';
    return $JSON->encode($v) =~ /^"/ ? 'string' : 'number';
}

sub is_bool_val {
    my ($v, $want, $name) = @_;
    Test::More::ok(JSON::PP::is_bool($v) && (!!$v == !!$want),
                   "$name is JSON " . ($want ? 'true' : 'false'))
        or Test::More::diag('  got: ' . (defined $v ? $JSON->encode($v) : 'missing'));
}

# raw_http(BYTES) -> the raw response (for chunked bodies and the like)
sub raw_http {
    my ($bytes, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Timeout => 10) or return '';
    local $SIG{PIPE} = 'IGNORE';
    # write in pieces; the server may answer (413) and close before reading it all
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, 16384, $off);
        last unless $n;
        $off += $n;
    }
    shutdown($s, 1);
    my $out = '';
    my $deadline = time + ($timeout // 15);
    $s->blocking(1);
    while (time < $deadline) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $out .= $buf;
    }
    return $out;
}

# section(NAME, CODE): run a group of assertions; an exception becomes a failure
sub section {
    my ($name, $code) = @_;
    my $ok = eval { $code->(); 1 };
    Test::More::ok(0, "$name: died: $@") unless $ok;
}

# fork_clients(N, CODE, %o) -> a handle: N processes, each with fresh connections, run
# CODE->(i) (i = 1..N) and send back the lines it returns (an exception becomes the line
# "died ..."). o{start_at}: a time (Time::HiRes) at which all of them begin, so that they
# run at the same instant. join_clients(HANDLE) -> every line of every process, in
# process order, once all have ended.
sub fork_clients {
    my ($n, $code, %o) = @_;
    my @kids;
    for my $i (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            fresh_connections();
            my $wait = ($o{start_at} // 0) - Time::HiRes::time();
            Time::HiRes::sleep($wait) if $wait > 0;
            my @out = eval { $code->($i) };
            @out = ("died $@") if $@;
            print $w "$_\n" for @out;
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [ $pid, $r ];
    }
    return \@kids;
}

sub join_clients {
    my $kids = shift;
    my @lines;
    for my $k (@$kids) {
        my $fh = $k->[1];
        push @lines, map { chomp; $_ } <$fh>;
        close $fh;
        waitpid($k->[0], 0);
    }
    return @lines;
}

# =====================================================================================
# ---- task engine helpers (t/1[0-9][0-9]-*.t) ----
# The engine works in the background: these wait for tasks with deadlines, read the
# database behind the server (sqlite3 / psql CLI, with the POKETTO_DBD_* parameters the
# run passes), find the test httpd's processes, and run a scripted origin (bin/origin.pl).
# None of them asserts anything.
use File::Basename ();
use File::Spec ();
use Encode ();
use POSIX ();

push @EXPORT, qw(
    wait_task wait_tasks task_of db_rows db_value httpd_parent_pid httpd_children pid_alive
    access_log_count origin_start origin_stop origin_hits origin_log_lines origin_dir
    closed_port utf8_strict write_file t_logs_dir task_rows ready_events owner_pid
    server_up parent_launch start_server keep_server_up survived_ok
);

my $BIN_DIR = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . '/../../bin');

sub t_logs_dir { Apache::Test::vars('t_logs') }

# wait_task(ID, %o) -> the last response of GET /api/tasks/ID: the first that is not 202,
# or the 202 at the deadline (o{timeout}, default 25 s). o{auth} defaults to alice;
# o{seen} (an array ref) collects the decoded 202 bodies seen on the way.
sub wait_task {
    my ($id, %o) = @_;
    my $r = wait_tasks([$id], %o);
    return $r->{$id};
}

# wait_tasks([IDS], %o) -> { id => last response }, polling all of them until none is
# 202 or the deadline; o{seen} = { id => [202 bodies] } and o{done_at} = { id => time
# the end was seen } are filled when given.
sub wait_tasks {
    my ($ids, %o) = @_;
    my $deadline = Time::HiRes::time() + ($o{timeout} // 25);
    my %last;
    my %left = map { $_ => 1 } @$ids;
    while (%left) {
        for my $id (sort keys %left) {
            my $res = req(GET => "/api/tasks/$id", auth => $o{auth} // 'alice');
            $last{$id} = $res;
            if ($res->code == 202) {
                push @{ $o{seen}{$id} }, json_of($res) if $o{seen};
            }
            elsif (($res->header('Client-Warning') // '') ne 'Internal response') {
                # (an answer LWP made up itself - the connection broke, e.g. its child
                # was killed - is not the server's: ask again)
                delete $left{$id};
                $o{done_at}{$id} = Time::HiRes::time() if $o{done_at};
            }
        }
        last if !%left || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.2);
    }
    return \%last;
}

# task_of(RES) -> the task id of a 202 save/refetch answer (Location /api/tasks/N)
sub task_of { location_id($_[0], 'tasks') }

# db_rows(SQL) -> list of array refs (columns as strings, NULL as undef-less '')
sub db_rows {
    my $sql = shift;
    my $driver = $ENV{POKETTO_DBD_DRIVER} // '';
    my $params = $ENV{POKETTO_DBD_PARAMS} // die "POKETTO_DBD_PARAMS is not set\n";
    my @cmd = $driver eq 'sqlite3'
        ? ('sqlite3', '-batch', '-noheader', '-separator', "\t", '-cmd', '.timeout 10000',
           $params, $sql)
        : ('psql', '-X', '-q', '-A', '-t', '-F', "\t", '-v', 'ON_ERROR_STOP=1',
           '-d', $params, '-c', $sql);
    local $ENV{PGCONNECT_TIMEOUT} = 10;
    open(my $fh, '-|', @cmd) or die "$cmd[0]: $!\n";
    my @rows = map { chomp; [ split /\t/, $_, -1 ] } <$fh>;
    close $fh or die "$cmd[0] failed (status $?) on: $sql\n";
    return @rows;
}

# db_value(SQL) -> the first column of the first row (or undef)
sub db_value {
    my @r = db_rows(shift);
    return @r ? $r[0][0] : undef;
}

# the test httpd's parent (from its pid file) and its children (by /proc ppid)
sub httpd_parent_pid {
    my $f = Apache::Test::vars('t_pid_file');
    open(my $fh, '<', $f) or return undef;
    my $pid = <$fh>;
    return ($pid // '') =~ /^(\d+)/ ? $1 : undef;
}

sub httpd_children {
    my $parent = shift // httpd_parent_pid() // return ();
    my @kids;
    for my $d (glob '/proc/[0-9]*') {
        open(my $fh, '<', "$d/stat") or next;
        my $st = <$fh> // next;
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        next unless $st =~ /^(\d+) \(.*\) \S+ (\d+) /s;
        push @kids, $1 if $2 == $parent;
    }
    return sort { $a <=> $b } @kids;
}

sub pid_alive {
    my $pid = shift;
    return 0 unless $pid;
    open(my $fh, '<', "/proc/$pid/stat") or return 0;
    my $st = <$fh> // return 0;
    return $st !~ /^\d+ \(.*\) Z /s;       # a zombie is gone for our purposes
}

# access_log_count(REGEX) -> lines of the test httpd's access_log that match
sub access_log_count {
    my $re = shift;
    open(my $fh, '<', t_logs_dir() . '/access_log') or return 0;
    return scalar grep { $_ =~ $re } <$fh>;
}

# the directory the test httpd serves as /origin/ (gen/ under it is for run-time files)
sub origin_dir { Apache::Test::vars('documentroot') . '/origin' }

# write_file(PATH, BYTES): creates the directory too
sub write_file {
    my ($path, $bytes) = @_;
    my $dir = File::Basename::dirname($path);
    mkdir $dir unless -d $dir;
    open(my $fh, '>:raw', $path) or die "$path: $!\n";
    print $fh $bytes;
    close $fh or die "$path: $!\n";
}

# a port on 127.0.0.1 nobody listens on
sub closed_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or die "socket: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# utf8_strict(BYTES): the bytes are well-formed UTF-8
sub utf8_strict {
    my $b = shift;
    return 0 unless defined $b;
    my $copy = $b;
    return eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK()); 1 } ? 1 : 0;
}

# origin_start() -> { url => 'http://127.0.0.1:P', port, pid, log }: bin/origin.pl,
# stopped by origin_stop or when this test process ends
my @ORIGINS;
sub origin_start {
    my $log = sprintf '%s/origin-%d-%d.log', t_logs_dir(), $$, scalar @ORIGINS;
    unlink $log;
    my $pid = open(my $out, '-|', $^X, "$BIN_DIR/origin.pl", $log, 240)
        or die "origin.pl: $!\n";
    my $line = <$out> // '';
    die "origin.pl did not start\n" unless $line =~ /^port (\d+)/;
    my $o = { port => $1, pid => $pid, log => $log, fh => $out,
              url => "http://127.0.0.1:$1" };
    push @ORIGINS, $o;
    return $o;
}

sub origin_stop {
    my $o = shift;
    return unless $o && $o->{pid};
    local $?;                       # close() of the pipe sets it: not the test's status
    kill 'TERM', $o->{pid};
    close $o->{fh};
    $o->{pid} = 0;
}

END { origin_stop($_) for @ORIGINS }

sub origin_log_lines {
    my $o = shift;
    open(my $fh, '<', $o->{log}) or return ();
    return map { chomp; $_ } <$fh>;
}

# origin_hits(ORIGIN, REGEX) -> requests whose path matches
sub origin_hits {
    my ($o, $re) = @_;
    return scalar grep { /^req \S+ \d+ (.*)$/ && $1 =~ $re } origin_log_lines($o);
}

# task_rows(IDS) -> { id => { state, attempts, owner } } from the tasks table ('' for NULL)
sub task_rows {
    my $ids = join ',', map { $_ + 0 } @_;
    my %r;
    for my $row (db_rows("SELECT id, state, attempts, COALESCE(owner, '') FROM tasks"
                         . " WHERE id IN ($ids)")) {
        $r{ $row->[0] } = { state => $row->[1], attempts => $row->[2], owner => $row->[3] };
    }
    return \%r;
}

# ready_events(ITEM IDS) -> { item id => number of item.ready events }
sub ready_events {
    my $ids = join ',', map { $_ + 0 } @_;
    my %n = map { $_ => 0 } @_;
    for my $row (db_rows("SELECT item_id, COUNT(*) FROM events WHERE type = 'item.ready'"
                         . " AND item_id IN ($ids) GROUP BY item_id")) {
        $n{ $row->[0] } = $row->[1];
    }
    return \%n;
}

# the pid in a task's owner ("host:pid:start")
sub owner_pid { ($_[0] // '') =~ /:(\d+):\d+$/ ? $1 : undef }

# ---- stopping and starting the test server from a test ----

sub server_up {
    my $res = req(GET => '/', ua => new_ua());
    return $res->code == 200;
}

# parent_launch(PID) -> { argv, env, cwd } of the running httpd parent, to start it again
# exactly as run-integration.sh / t/TEST started it
sub parent_launch {
    my $pid = shift or return undef;
    my $read = sub { open(my $fh, '<', $_[0]) or return undef; local $/; my $s = <$fh>; $s };
    my $cmd = $read->("/proc/$pid/cmdline") // return undef;
    my $env = $read->("/proc/$pid/environ") // return undef;
    return { argv => [ split /\0/, $cmd ],
             env => { map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () } split /\0/, $env },
             cwd => readlink("/proc/$pid/cwd") // '/' };
}

# start_server(LAUNCH) -> true once the new server answers (at most 30 s)
sub start_server {
    my $l = shift or return 0;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        POSIX::setsid();
        chdir $l->{cwd};
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';     # never the TAP pipe: httpd would keep it open
        open STDERR, '>>', t_logs_dir() . '/restart.log';
        %ENV = %{ $l->{env} };
        no warnings 'exec';
        exec { $l->{argv}[0] } @{ $l->{argv} };
        POSIX::_exit(127);
    }
    waitpid($pid, 0);                      # httpd detaches: this returns at once
    my $deadline = Time::HiRes::time() + 30;
    until (Time::HiRes::time() > $deadline) {
        my $p = httpd_parent_pid();
        return 1 if $p && pid_alive($p) && server_up();
        Time::HiRes::sleep(0.25);
    }
    return 0;
}

# keep_server_up([LAUNCH]): remember how the server runs now (or LAUNCH); when this test
# process ends and the server is down (a test stopped it, or it died), start it again, so
# that the test files after this one still have a server
my $LAUNCH;
sub keep_server_up { $LAUNCH = shift // parent_launch(httpd_parent_pid()) // $LAUNCH }

END {
    if ($LAUNCH && !server_up()) {
        local $?;
        Test::More::diag('the server is down at the end of this file: starting it again');
        start_server($LAUNCH);
    }
}

# survived_ok(NAME): 1 assertion - the server still answers (within 10 s), e.g. after a
# restart signal. If not, the last fatal lines of error_log are shown, the server is
# started again (see keep_server_up) and false is returned.
sub survived_ok {
    my $name = shift;
    my $deadline = Time::HiRes::time() + 10;
    my $up = 0;
    until ($up = server_up()) {
        last if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.25);
    }
    Test::More::ok($up, "$name: the server is still up") and return 1;
    my @why = grep { /emerg|crit|exit signal/ }
              do { open(my $fh, '<', t_logs_dir() . '/error_log'); <$fh> };
    Test::More::diag("  error_log: $_") for @why[ ($#why > 4 ? $#why - 4 : 0) .. $#why ];
    start_server($LAUNCH) if $LAUNCH;
    fresh_connections();
    return 0;
}


# =====================================================================================
# ---- live events helpers (t/140-events.t) ----
# An event stream is read over a socket of its own (HTTP/1.0: the body is not chunked
# and ends when the server closes it), without blocking the test: sse_pump reads what
# has arrived, parses it and returns once a condition holds. None of them asserts.
use IO::Select ();

push @EXPORT, qw(sse_open sse_pump sse_close sse_ids conn_child keep_alive_request
                 user_id_of event_ids_after);

# sse_open(%o) -> handle: GET /api/events for o{auth} (default alice), with o{query}
# and o{last_id} (Last-Event-ID), waiting (o{timeout}, 10 s) for the stream's
# "subscribed" comment: from then on, every event committed reaches it.
# The handle: {status, head, events => [{id, event, raw, data}], comments, eof}.
sub sse_open {
    my %o = @_;
    my $tok = token_of($o{auth} // 'alice');
    my $h = { buf => '', events => [], comments => [], eof => 0 };
    $h->{sock} = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                       Timeout => 10) or return $h;
    my $req = 'GET /api/events' . (defined $o{query} ? "?$o{query}" : '') . " HTTP/1.0\r\n"
            . "Host: 127.0.0.1:$PORT\r\nAccept: text/event-stream\r\n"
            . "Authorization: Bearer $tok\r\n";
    $req .= "Last-Event-ID: $o{last_id}\r\n" if defined $o{last_id};
    local $SIG{PIPE} = 'IGNORE';
    syswrite($h->{sock}, "$req\r\n");
    sse_pump($h, until => sub { grep { /^subscribed$/ } @{ $h->{comments} } },
             timeout => $o{timeout} // 10);
    return $h;
}

sub _sse_parse {
    my $h = shift;
    if (!defined $h->{head}) {
        return unless $h->{buf} =~ s/^(.*?)\r\n\r\n//s;
        $h->{head} = $1;
        ($h->{status}) = $h->{head} =~ m{^HTTP/\S+ (\d+)};
        ($h->{ctype}) = $h->{head} =~ /^Content-Type:\s*([^\r\n]*)/mi;
    }
    while ($h->{buf} =~ s/^(.*?)\n\n//s) {
        my ($block, %f, @data) = ($1);
        for my $line (split /\n/, $block) {
            if ($line =~ /^:\s?(.*)$/) { push @{ $h->{comments} }, $1; next }
            my ($k, $v) = $line =~ /^([^:]*):\s?(.*)$/ or next;
            if ($k eq 'data') { push @data, $v } else { $f{$k} = $v }
        }
        next unless @data;          # retry: and the like
        my $raw = join "\n", @data;
        push @{ $h->{events} }, { id => $f{id}, event => $f{event}, raw => $raw,
                                  data => scalar eval { $JSON->decode($raw) },
                                  at => Time::HiRes::time() };
    }
}

# sse_pump(H, until => CODE, timeout => S) -> whether CODE became true (before EOF
# or the timeout); reads and parses everything that arrived meanwhile
sub sse_pump {
    my ($h, %o) = @_;
    return 0 unless $h->{sock};
    my $deadline = Time::HiRes::time() + ($o{timeout} // 10);
    my $sel = IO::Select->new($h->{sock});
    while (1) {
        _sse_parse($h);
        return 1 if $o{until} && $o{until}->();
        return 0 if $h->{eof};
        my $left = $deadline - Time::HiRes::time();
        return 0 if $left <= 0;
        next unless $sel->can_read($left > 0.5 ? 0.5 : $left);
        my $n = sysread($h->{sock}, my $chunk, 65536);
        if (!$n) {
            $h->{eof} = 1;
            $h->{eof_at} = Time::HiRes::time();
            next;
        }
        $h->{buf} .= $chunk;
    }
}

sub sse_close {
    my $h = shift;
    close $h->{sock} if $h && $h->{sock};
    $h->{sock} = undef if $h;
}

sub sse_ids { [ map { $_->{id} } @{ $_[0]{events} } ] }

# a user's id, and the ids of the user's events after AFTER from the database
sub user_id_of { db_value("SELECT id FROM users WHERE login = '" . shift() . "'") }

sub event_ids_after {
    my ($user, $after) = @_;
    return [ map { $_->[0] } db_rows("SELECT id FROM events WHERE user_id = " . ($user + 0)
                                     . " AND id > " . ($after + 0) . " ORDER BY id") ];
}

# conn_child(SOCKET) -> the pid of the httpd child that holds the other end of a
# connection to the test server (from /proc/net/tcp and the children's descriptors),
# or undef
sub conn_child {
    my $sock = shift or return undef;
    my $cport = $sock->sockport;
    my $inode;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open(my $fh, '<', $f) or next;
        while (<$fh>) {
            my @c = split ' ';
            next unless @c > 9 && $c[1] =~ /:([0-9A-F]{4})$/i && hex($1) == $PORT;
            next unless $c[2] =~ /:([0-9A-F]{4})$/i && hex($1) == $cport;
            $inode = $c[9];
            last;
        }
        last if $inode;
    }
    return undef unless $inode;
    for my $pid (httpd_children()) {
        opendir(my $d, "/proc/$pid/fd") or next;
        for my $fd (readdir $d) {
            my $l = readlink("/proc/$pid/fd/$fd") // next;
            return $pid if $l eq "socket:[$inode]";
        }
    }
    return undef;
}

# keep_alive_request(METHOD, PATH, %o) -> (status, decoded body, socket): one HTTP/1.1
# request on a new connection that stays open (so conn_child can tell who served it);
# o{auth}, o{json}, o{sock} (reuse that connection)
sub keep_alive_request {
    my ($method, $path, %o) = @_;
    my $s = $o{sock} // IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                              Timeout => 10) or return (0, undef, undef);
    my $body = exists $o{json} ? $JSON->encode($o{json}) : '';
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$PORT\r\n"
            . 'Authorization: Bearer ' . token_of($o{auth} // 'alice') . "\r\n"
            . (length $body ? "Content-Type: application/json\r\n" : '')
            . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    local $SIG{PIPE} = 'IGNORE';
    syswrite($s, $req) or return (0, undef, $s);
    my ($buf, $head) = ('', undef);
    my $deadline = time + 15;
    my $sel = IO::Select->new($s);
    while (time < $deadline) {
        if (!defined $head && $buf =~ s/^(.*?)\r\n\r\n//s) {
            $head = $1;
        }
        if (defined $head) {
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            $len //= 0;
            if (length $buf >= $len) {
                my ($code) = $head =~ m{^HTTP/\S+ (\d+)};
                return ($code, scalar eval { $JSON->decode(substr($buf, 0, $len)) }, $s);
            }
        }
        next unless $sel->can_read(1);
        my $n = sysread($s, my $chunk, 65536) or last;
        $buf .= $chunk;
    }
    return (0, undef, $s);
}

1;
