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

done_testing;
