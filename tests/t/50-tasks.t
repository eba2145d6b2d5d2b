# Tasks: GET /api/tasks/{id} while queued (202), failed (200), done (303); other users' 404.
#
# The test config points the engine's fetches at addresses on this machine only (see
# t/conf/extra.conf.in): a closed port on 127.0.0.1 gives "connection refused", which is
# retried after PokettoTaskRetryDelay (30 s), so that task stays queued during this file;
# example.com resolves to a refused documentation address, so that task fails at once.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $u = uniq('tasks');

# a port on 127.0.0.1 nobody listens on
my $closed = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or die "socket: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};

# poll the task until it is no longer 202 (at most 20 s); returns the last response
sub wait_task {
    my ($id, $who) = @_;
    my $res;
    my $deadline = time + 20;
    do {
        sleep 0.2 if $res;
        $res = req(GET => "/api/tasks/$id", auth => $who // 'alice');
    } while ($res->code == 202 && time < $deadline);
    return $res;
}

my ($task_id, $item_id);

section 'queued task' => sub {
    my ($res, $item) = save_item('alice', "http://127.0.0.1:$closed/$u/queued");
    status_is($res, 202, 'save a URL');
    $task_id = location_id($res, 'tasks') // 0;
    $item_id = $item ? $item->{id} : 0;

    # the first attempt (connection refused) may or may not have run yet: either way the
    # task is queued or running for the next 30 s
    for my $when ('at once', 'after 1.5 s') {
        sleep 1.5 if $when ne 'at once';
        $res = req(GET => "/api/tasks/$task_id", auth => 'alice');
        my $d = json_ok($res, 202, "GET a queued task ($when)") // {};
        is($res->header('Retry-After'), '1', "queued task ($when): Retry-After: 1");
        like($res->header('Location') // '', qr{(^|//[^/]+)/api/tasks/$task_id$},
             "queued task ($when): Location /api/tasks/{id}");
        is($d->{id}, $task_id, "queued task ($when): id");
        is(json_type($d->{id}), 'number', "queued task ($when): id is a number");
        like($d->{state} // '', qr/^(queued|running)$/, "queued task ($when): state queued or running");
        is($d->{item_id}, $item_id, "queued task ($when): item_id");
        is(json_type($d->{attempts}), 'number', "queued task ($when): attempts is a number");
        ok(exists $d->{error}, "queued task ($when): error member present");
    }
    my $it = get_item('alice', $item_id) // {};
    is($it->{state}, 'pending', 'the item of a queued task is pending');
};

section 'not yours, unknown' => sub {
    problem_ok(req(GET => "/api/tasks/$task_id", auth => 'bob'), 404, "bob reads alice's task");
    problem_ok(req(GET => '/api/tasks/999999999', auth => 'alice'), 404, 'unknown task');
    problem_ok(req(GET => '/api/tasks/abc', auth => 'alice'), 404, 'non-numeric task id');
    problem_ok(req(GET => "/api/tasks/$task_id"), 401, 'task without credentials');
};

section 'failed task' => sub {
    my ($res, $item) = save_item('alice', "https://example.com/$u/refused");
    status_is($res, 202, 'save a URL whose address is refused');
    my $tid = location_id($res, 'tasks') // 0;
    $res = wait_task($tid);
    my $d = json_ok($res, 200, 'GET a failed task') // {};
    is($d->{state}, 'failed', 'failed task: state');
    like($d->{error} // '', qr/refused|192\.0\.2\.1/i, 'failed task: error says the address was refused');
    is($d->{item_id}, $item && $item->{id}, 'failed task: item_id');
    my $it = get_item('alice', $item ? $item->{id} : 0) // {};
    is($it->{state}, 'failed', 'the item of a failed task is failed');
    ok(defined $it->{error} && length $it->{error}, 'the failed item says why');
    problem_ok(req(GET => "/api/tasks/$tid", auth => 'bob'), 404, "bob reads alice's failed task");
};

# an article the client sends itself (the "html" member): nothing is fetched
my $html = join "\n",
    '<!doctype html><html lang="en"><head><title>Poketto Test Article</title></head><body>',
    '<nav><a href="/">Home</a> <a href="/about">About</a></nav><article><h1>Poketto Test Article</h1>',
    (map { "<p>Paragraph $_ of the test article. The quick brown fox jumps over the lazy dog; "
           . "reading it later is the whole point of a read-it-later service, paragraph $_.</p>" } 1 .. 8),
    '</article><footer>Copyright nobody</footer></body></html>';

section 'done task' => sub {
    my $res = req(POST => '/api/items', auth => 'alice',
                  json => { url => "https://example.com/$u/article", html => $html });
    status_is($res, 202, 'save a URL with its html');
    my $tid = location_id($res, 'tasks') // 0;
    my $iid = (json_of($res) // {})->{item}{id} // 0;
    $res = wait_task($tid);
    status_is($res, 303, 'GET a done task');
    like($res->header('Location') // '', qr{(^|//[^/]+)/api/items/$iid$},
         'done task: Location /api/items/{item}');
    my $it = get_item('alice', $iid) // {};
    is($it->{state}, 'ready', 'the item is ready');
    like($it->{text} // '', qr/quick brown fox/, 'the item has the article text');
    problem_ok(req(GET => "/api/tasks/$tid", auth => 'bob'), 404, "bob reads alice's done task");

    # Prefer: wait=N answers 201 with the finished item
    $res = req(POST => '/api/items', auth => 'alice', headers => { Prefer => 'wait=10' },
               json => { url => "https://example.com/$u/article-wait", html => $html });
    my $d = json_ok($res, 201, 'save with Prefer: wait=10') // {};
    like($res->header('Location') // '', qr{/api/items/\d+$}, 'Prefer wait: Location /api/items/{id}');
    like($res->header('Preference-Applied') // '', qr/^wait=10$/, 'Prefer wait: Preference-Applied');
    my $wi = $d->{item} // $d;
    is($wi->{state}, 'ready', 'Prefer wait: the item is ready');
};

done_testing;
