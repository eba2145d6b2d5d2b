# Concurrent writes from several client processes (bounded: 6 clients): every save
# succeeds (a busy database makes a write wait, never fail), and saving one URL at the
# same time from all clients makes exactly one item.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use IO::Handle;

use constant { CLIENTS => 6, EACH => 5 };
my $u = uniq('conc');
my $tag = "$u-t";

# run CODE(i) in CLIENTS processes at the same instant; returns their output lines
sub in_parallel { join_clients(fork_clients(CLIENTS, shift, start_at => time + 0.5)) }
require POSIX;

section 'distinct URLs in parallel' => sub {
    my $before = list_ids('alice', 'state=all&tag=' . esc($tag)) // [];
    my @codes = in_parallel(sub {
        my $i = shift;
        map {
            my $t0 = time;
            my ($res) = save_item('alice', "https://example.com/$u/c$i-$_", tags => [$tag]);
            # an answer made up by LWP (timeout, reset) is marked "client"
            sprintf '%s%s/%.1fs', $res->code,
                (($res->header('Client-Warning') // '') =~ /Internal response/ ? '(client: ' . $res->message . ')' : ''), time - $t0;
        } 1 .. EACH;
    });
    is(scalar @codes, CLIENTS * EACH, 'every client answered');
    is(scalar(grep { m{^202/} } @codes), CLIENTS * EACH, 'every parallel save got 202')
        or diag('  answers: ' . join(' ', @codes));
    # "a busy database makes a write wait, never fail" - but not for long: one small
    # insert each from 6 clients should not take seconds
    my ($slowest) = sort { $b <=> $a } map { m{/([\d.]+)s$} ? $1 : 0 } @codes;
    ok(($slowest // 99) < 5, 'every parallel save answered within 5 s')
        or diag(sprintf '  slowest parallel save: %.1f s', $slowest // 0);
    my $after = list_ids('alice', 'state=all&tag=' . esc($tag)) // [];
    is(scalar @$after, @$before + CLIENTS * EACH, 'every item is stored');
    my %seen;
    ok(!grep({ $seen{$_}++ } @$after), 'no duplicate ids');
};

section 'one URL in parallel' => sub {
    my $url = "https://example.com/$u/same";
    my @lines = in_parallel(sub {
        my ($res, $it) = save_item('alice', $url, tags => ["$u-same"]);
        return $res->code . ' ' . ($it ? $it->{id} : '-');
    });
    my @codes = map { (split / /)[0] } @lines;
    my %ids = map { (split / /)[1] => 1 } @lines;
    is(scalar(grep { $_ eq '202' } @codes), 1, 'exactly one parallel save of the same URL is 202')
        or diag('  answers: ' . join(', ', @lines));
    is(scalar(grep { $_ eq '200' } @codes), CLIENTS - 1, 'the others are 200 existing');
    is(scalar(keys %ids), 1, 'all answers name the same item');
    my $l = list_ids('alice', 'state=all&tag=' . esc("$u-same")) // [];
    is(scalar @$l, 1, 'one item is stored');
};

section 'parallel PATCHes of one item' => sub {
    my ($res, $it) = save_item('alice', "https://example.com/$u/patched");
    my $id = $it ? $it->{id} : 0;
    my @codes = in_parallel(sub {
        my $i = shift;
        map { req(PATCH => "/api/items/$id", auth => 'alice',
                  json => { progress => $i / 10, tags => ["$u-p$i"] })->code } 1 .. EACH;
    });
    is(scalar(grep { $_ eq '200' } @codes), CLIENTS * EACH, 'every parallel PATCH got 200')
        or diag('  codes: ' . join(' ', @codes));
    my $got = get_item('alice', $id) // {};
    my ($k) = ($got->{progress} // 0) * 10 + 0.5;
    $k = int $k;
    is_deeply($got->{tags}, ["$u-p$k"], 'the item ends with the tags of the PATCH whose progress it has');
};

# A save that fails among others saved at the same instant fails alone: with SQLite a
# group commit rolls back its savepoint only (tests/unit/test_store.c), with PostgreSQL
# the group is rolled back and every save of it runs again alone. A trigger refuses the
# "poison" URLs; PostgreSQL only, since a trigger made under SQLite expires the
# statements httpd's connections have prepared.
section 'a failing save among parallel ones fails alone' => sub {
    plan skip_all => 'PostgreSQL only' unless ($ENV{POKETTO_DBD_DRIVER} // '') eq 'pgsql';
    db_rows(q{CREATE OR REPLACE FUNCTION poketto_test_poison() RETURNS trigger AS $$
              BEGIN IF NEW.url LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned URL'; END IF;
              RETURN NEW; END $$ LANGUAGE plpgsql});
    db_rows('CREATE TRIGGER poketto_test_poison BEFORE INSERT ON items'
            . ' FOR EACH ROW EXECUTE FUNCTION poketto_test_poison()');
    my $ptag = "$u-poison";
    my @lines = eval {
        in_parallel(sub {
            my $i = shift;
            map {
                my $name = ($i == 2 && $_ == 3) || ($i == 5 && $_ == 1) ? "poison$i-$_" : "ok$i-$_";
                my ($res) = save_item('alice', "https://example.com/$u/$name", tags => [$ptag]);
                "$name " . $res->code . ' ' . ($res->header('Content-Type') // '-');
            } 1 .. EACH;
        });
    };
    my $err = $@;
    db_rows('DROP TRIGGER poketto_test_poison ON items');
    db_rows('DROP FUNCTION poketto_test_poison()');
    die $err if $err;
    my @poison = grep { /^poison/ } @lines;
    my @ok = grep { /^ok/ } @lines;
    is(scalar @poison, 2, 'both poisoned saves answered');
    is(scalar(grep { m{^\S+ 503 application/problem\+json} } @poison), 2,
       'each poisoned save: 503 problem') or diag('  answers: ' . join(', ', @poison));
    is(scalar(grep { m{^\S+ 202 } } @ok), CLIENTS * EACH - 2, 'every other save: 202')
        or diag('  answers: ' . join(', ', @ok));
    my $items = list_all('alice', 'state=all&tag=' . esc($ptag)) // [];
    my %urls = map { ($_->{url} // '') => 1 } @$items;
    is(scalar @$items, CLIENTS * EACH - 2, 'every other item is stored, once');
    ok(!grep({ /poison/ } keys %urls), 'no poisoned item is stored');
    my $tasks = "SELECT COUNT(*) FROM tasks t JOIN items i ON i.id = t.item_id WHERE i.url LIKE";
    is(db_value("$tasks 'https://example.com/$u/ok%'"), CLIENTS * EACH - 2,
       'one task for each stored item');
    is(db_value("$tasks 'https://example.com/$u/poison%'"), 0, 'none for the poisoned');
};

done_testing;
