# Task engine, restarts and races (see also t/130-engine-resilience.t):
#   * graceful restarts while a burst of client-sent pages waits in the extraction queue:
#     the stopping children must hand those tasks back and exit cleanly;
#   * items deleted while the engine completes their tasks (PostgreSQL deadlocks);
#   * a task whose worker dies on every attempt (kill -9) must be given up after
#     1 + PokettoTaskRetries attempts, as docs/directives.md promises (event MPM only:
#     it takes three leases).
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use POSIX ();

my $u = uniq('race');
my $origin = origin_start();
my $LEASE = 5;
keep_server_up();                       # a crash must not leave the next files without one

# ------------------------------------------------------------------ graceful, extraction queue
# Pages sent by the client go straight to the extraction threads; a burst of them queues
# there. A child that stops while jobs wait in that queue must hand them back and exit
# cleanly (not crash in its pool cleanup).
section 'graceful restarts while pages wait for extraction' => sub {
    my $log = t_logs_dir() . '/error_log';
    my $from = -s $log // 0;
    my $para = join '', map { "<p>Paragraph $_: " . ('lorem ipsum dolor sit amet, consectetur '
                                                     x 12) . "</p>\n" } 1 .. 110;
    my $html = '<!doctype html><html><head><title>Queued For Extraction</title></head><body>'
             . "<article>$para</article></body></html>";
    my $port = port();
    my @kids;
    for my $c (1 .. 4) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            fresh_connections();
            my @ids;
            for my $i (1 .. 12) {
                my ($res, $item) = save_item('alice', "http://127.0.0.1:$port/origin/none?$u-q$c-$i",
                                             html => $html);
                # (a request on a kept-alive connection the restart closes fails in LWP,
                # not in the server: only answered saves are followed)
                push @ids, (task_of($res) // 0) . ':' . ($item ? $item->{id} : 0)
                    if $res->code == 202;
            }
            print $w "@ids\n";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [ $pid, $r ];
    }
    my $parent = httpd_parent_pid();
    sleep 0.5;
    for (1 .. 3) {                         # while the saves come in
        kill 'USR1', $parent;
        sleep 0.7;
    }
    my $alive = survived_ok('extraction queue');
    my (@tids, @iids);
    for my $k (@kids) {
        my $fh = $k->[1];
        for (split ' ', (<$fh> // '')) {
            my ($t, $i) = split /:/;
            push @tids, $t;
            push @iids, $i;
        }
        waitpid($k->[0], 0);
    }
    return unless $alive;
    ok(@tids >= 24, 'extraction queue: most saves were answered (' . scalar(@tids) . ' of 48)');
    fresh_connections();
    my $last = wait_tasks(\@tids, timeout => 25);
    my @not = grep { $last->{$_}->code != 303 } @tids;
    ok(!@not, 'extraction queue: every task ends done')
        or diag('  not done: ' . join ' ', map { "$_=" . $last->{$_}->code } @not);
    my $ev = ready_events(@iids);
    my @odd = grep { $ev->{$_} != 1 } @iids;
    ok(!@odd, 'extraction queue: one item.ready event per item')
        or diag('  events: ' . join ' ', map { "$_=$ev->{$_}" } @odd);
    open(my $fh, '<', $log) or die "$log: $!";
    seek($fh, $from, 0);
    my @crash = grep { /exit signal|AH0005[12]|corrupted|double free/ } <$fh>;
    ok(!@crash, 'extraction queue: no child crashed while stopping')
        or diag('  ' . substr($crash[0], 0, 300));
};

# ------------------------------------------------------------------ deletes vs completions
# Deleting an item while a worker completes its task: both lock the task and the item
# rows; in different orders they deadlock on PostgreSQL and one side fails.
section 'items deleted while the engine completes them' => sub {
    my $port = port();
    my $log = t_logs_dir() . '/error_log';
    my $from = -s $log // 0;
    my @kids;
    for my $c (1 .. 3) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            fresh_connections();
            my @codes;
            for my $i (1 .. 15) {
                # one that fails at once (refused address), one that is fetched and extracted
                my $url = $i % 2 ? "http://127.0.0.2:$port/origin/article.html?$u-del$c-$i"
                                 : "http://127.0.0.1:$port/origin/article.html?$u-del$c-$i";
                my ($res, $item) = save_item('alice', $url);
                my $id = $item ? $item->{id} : 0;
                # let the engine get going on some of them
                Time::HiRes::sleep(0.01 * ($i % 4));
                my $del = req(DELETE => "/api/items/$id", auth => 'alice');
                push @codes, $res->code . '/' . $del->code;
            }
            print $w join(' ', @codes), "\n";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [ $pid, $r ];
    }
    my @codes;
    for my $k (@kids) {
        my $fh = $k->[1];
        push @codes, split ' ', (<$fh> // '');
        waitpid($k->[0], 0);
    }
    is(scalar @codes, 45, 'delete race: 45 save + delete pairs ran');
    my @bad = grep { $_ ne '202/204' } @codes;
    ok(!@bad, 'delete race: every save 202 and every delete 204') or diag("  got: @bad");
    is(db_value("SELECT COUNT(*) FROM tasks WHERE item_id NOT IN (SELECT id FROM items)"), 0,
       'delete race: no task outlives its item');
    sleep 1;                              # completions in progress log their outcome
    open(my $fh, '<', $log) or die "$log: $!";
    seek($fh, $from, 0);
    my @dead = grep { /deadlock detected|database is locked|AH10741/ } <$fh>;
    ok(!@dead, 'delete race: no deadlock and no lost result in error_log')
        or diag('  ' . substr($dead[0], 0, 600));
};

# ------------------------------------------------------------------ a page that kills its worker
# directives.md, PokettoTaskRetries: "A task whose child died counts the attempt too, so a
# page that crashes its worker cannot loop for ever." Here the worker dies (kill -9) on
# every attempt: after 1 + PokettoTaskRetries (2) deaths the task must be given up, not
# claimed and fetched again. Takes ~3 leases (~17 s): run under the event MPM only.
section 'a task whose worker dies every time is given up' => sub {
    if (($ENV{POKETTO_TEST_MPM} // 'event') ne 'event') {
        note('skipped under ' . $ENV{POKETTO_TEST_MPM} . ': the event MPM runs it');
        return;
    }
    my $pid = "$u-poison";
    my ($res, $item) = save_item('alice', "$origin->{url}/slow?ms=2500&id=$pid");
    my $tid = task_of($res) // 0;
    my $hits = sub { origin_hits($origin, qr/id=\Q$pid\E$/) };
    my $kills = 0;
    for my $round (1 .. 3) {
        # the next attempt: claimed by some child, its page asked for
        my ($deadline, $victim) = (time + $LEASE + 8, undef);
        while (time < $deadline) {
            my $r = task_rows($tid)->{$tid} // {};
            last if ($r->{state} // '') =~ /^(done|failed)$/;
            if (($r->{state} // '') eq 'running' && $hits->() >= $round) {
                $victim = owner_pid($r->{owner});
                last;
            }
            sleep 0.1;
        }
        last unless $victim && grep { $_ == $victim } httpd_children();
        kill 'KILL', $victim;
        $kills++;
        fresh_connections();
    }
    is($kills, 3, 'poison: its worker was killed on each of the 3 attempts');
    my $last = wait_task($tid, timeout => $LEASE + 10);
    my $d = json_of($last) // {};
    is($last->code . ' ' . ($d->{state} // ''), '200 failed',
       'poison: the task is failed once its attempts are used up')
        or diag('  task: ' . $last->code . ' ' . jenc($d) . ', attempts in the database: '
                . (task_rows($tid)->{$tid}{attempts} // '?'));
    is($hits->(), 3, 'poison: the page was not fetched a 4th time');
    my $it = get_item('alice', $item ? $item->{id} : 0) // {};
    is($it->{state}, 'failed', 'poison: the item is failed');
    ok(defined $it->{error} && length $it->{error}, 'poison: the item says why');
};

done_testing;
