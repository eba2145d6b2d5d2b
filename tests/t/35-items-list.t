# GET /api/items: filters (state, favorite, tag, since), sort, keyset pagination, ETag.
# Every query is scoped by a tag unique to this file, so other files' items don't matter.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);

my $T = JSON::PP::true;
my $tag = uniq('list');
my $n = 0;

sub new_item {
    my ($tags) = @_;
    my ($res, $it) = save_item('alice', "https://example.com/$tag/" . ++$n, tags => $tags);
    die "save failed: " . $res->code . ' ' . ($res->content // '') . "\n"
        unless $res->code == 202 && $it;
    return $it->{id};
}

# ids of one page (no assertions)
sub page {
    my ($q) = @_;
    my $res = req(GET => "/api/items?$q", auth => 'alice');
    my $d = json_of($res) // {};
    return ($res, $d, [ map { $_->{id} } @{ $d->{items} // [] } ]);
}

my @ids;
section 'setup' => sub {
    @ids = map { new_item([$tag]) } 1 .. 5;
    is(scalar @ids, 5, 'saved 5 items');
};

section 'sort' => sub {
    my ($res, $d, $got) = page("tag=$tag");
    json_ok($res, 200, 'list by tag');
    is_deeply($got, [ reverse @ids ], 'default sort is newest first');
    ok(exists $d->{next_cursor} && !defined $d->{next_cursor}, 'single page: next_cursor is null');
    ok(!grep({ /rel="?next"?/ } $res->header('Link')), 'single page: no Link rel="next"');
    my $first = $d->{items}[0] // {};
    is($first->{url}, "https://example.com/$tag/5", 'list items carry their url');
    is_deeply($first->{tags}, [$tag], 'list items carry their tags');

    (undef, undef, $got) = page("tag=$tag&sort=newest");
    is_deeply($got, [ reverse @ids ], 'sort=newest');
    (undef, undef, $got) = page("tag=$tag&sort=oldest");
    is_deeply($got, [@ids], 'sort=oldest');
};

section 'filters' => sub {
    my ($i1, $i2, $i3, $i4, $i5) = @ids;
    req(PATCH => "/api/items/$i2", auth => 'alice', json => { archived => $T });
    req(PATCH => "/api/items/$i3", auth => 'alice', json => { favorite => $T });
    my $other = uniq('other');
    req(PATCH => "/api/items/$i4", auth => 'alice', json => { tags => [ $tag, $other ] });

    my $set = sub { [ sort { $a <=> $b } @{ (page($_[0]))[2] } ] };
    is_deeply($set->("tag=$tag"), [ $i1, $i3, $i4, $i5 ], 'default state is unread (not archived)');
    is_deeply($set->("tag=$tag&state=unread"), [ $i1, $i3, $i4, $i5 ], 'state=unread');
    is_deeply($set->("tag=$tag&state=archived"), [$i2], 'state=archived');
    is_deeply($set->("tag=$tag&state=all"), [@ids], 'state=all');
    is_deeply($set->("tag=$tag&state=all&favorite=true"), [$i3], 'favorite=true');
    is_deeply($set->("tag=$tag&state=all&favorite=false"), [ $i1, $i2, $i4, $i5 ], 'favorite=false');
    is_deeply($set->("tag=$other&state=all"), [$i4], 'tag filter');
    is_deeply($set->('tag=' . uniq('none') . '&state=all'), [], 'unknown tag: empty list');
    is_deeply($set->("tag=$tag&state=archived&favorite=true"), [], 'filters combine');
};

section 'since' => sub {
    # everything so far changed before $t0 (the engine included); only i1 is changed after
    ok(settle('alice', @ids), 'the engine is done with the items');
    my $t0 = int(time) + 1;
    sleep($t0 - time + 0.05);
    req(PATCH => "/api/items/$ids[0]", auth => 'alice', json => { progress => 0.5 });
    my $iso = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t0);
    my $set = sub { [ sort { $a <=> $b } @{ (page($_[0]))[2] } ] };
    is_deeply($set->("tag=$tag&state=all&since=$t0"), [ $ids[0] ], 'since=<unix seconds>');
    is_deeply($set->("tag=$tag&state=all&since=$iso"), [ $ids[0] ], 'since=<ISO 8601>');
    is_deeply($set->("tag=$tag&state=all&since=" . ($t0 - 3600)), [@ids], 'since an hour ago: all');
    is_deeply($set->("tag=$tag&state=all&since=2999-01-01T00:00:00Z"), [], 'since in the future: none');
};

section 'keyset pagination' => sub {
    my $ptag = uniq('page');
    my @p = map { new_item([$ptag]) } 1 .. 7;

    # newest first, 2 a page, follow next_cursor (and once the Link header)
    my (@seen, $cursor, $pages, $used_link);
    my $q = "tag=$ptag&limit=2";
    while (1) {
        my ($res, $d, $got) = page($q);
        last unless $res->code == 200;
        $pages++;
        push @seen, @$got;
        $cursor = $d->{next_cursor};
        my ($link) = grep { /rel="?next"?/ } $res->header('Link');
        if (!defined $cursor) {
            ok(!$link, 'last page: no Link rel="next"');
            last;
        }
        ok($link && $link =~ /<([^>]+)>/, "page $pages: Link rel=\"next\"");
        if ($pages == 1) {
            is(scalar @$got, 2, 'page 1 has limit=2 items');
            # an item saved while paging is newer than the cursor: not on later pages
            push @p, new_item([$ptag]);
        }
        if ($pages == 2 && $link && $link =~ /<([^>]+)>/) {
            (my $next = $1) =~ s{^(?:https?://[^/]+)?/api/items\?}{};
            $q = $next;
            $used_link = 1;
        }
        else {
            $q = "tag=$ptag&limit=2&cursor=" . esc($cursor);
        }
        last if $pages > 20;
    }
    is($pages, 4, 'newest, limit=2: 4 pages for 7 items');
    is_deeply(\@seen, [ reverse @p[0 .. 6] ], 'newest pages: every item once, in order');
    ok($used_link, 'the Link header URL was followed');

    # oldest first: an item saved while paging comes at the end and is not missed
    @seen = ();
    $cursor = undef;
    $pages = 0;
    while (1) {
        my $qq = "tag=$ptag&limit=3&sort=oldest" . (defined $cursor ? '&cursor=' . esc($cursor) : '');
        my ($res, $d, $got) = page($qq);
        last unless $res->code == 200;
        $pages++;
        push @seen, @$got;
        $cursor = $d->{next_cursor};
        push @p, new_item([$ptag]) if $pages == 1;
        if ($pages == 2) {          # delete an item of a later page
            req(DELETE => "/api/items/$p[7]", auth => 'alice');
        }
        last if !defined $cursor || $pages > 20;
    }
    my @want = grep { $_ != $p[7] } @p;
    is_deeply(\@seen, \@want, 'oldest pages: no duplicates, no gaps, new item at the end');
    my %dup;
    ok(!grep({ $dup{$_}++ } @seen), 'oldest pages: no duplicates');

    my ($res, $d, $got) = page("tag=$ptag&limit=50");
    status_is($res, 200, 'limit=50 (PokettoMaxPageSize) is allowed');
    is(scalar @$got, 8, 'limit=50 returns all 8');
};

section 'ETag and If-None-Match' => sub {
    my $q = "tag=$tag&state=all";
    settle('alice', @ids);
    my $res = req(GET => "/api/items?$q", auth => 'alice');
    my $etag = $res->header('ETag') // '';
    like($etag, qr/^"[^"]*"$/, 'list has a strong ETag');
    is(req(GET => "/api/items?$q", auth => 'alice')->header('ETag') // '', $etag,
       'the same list gives the same ETag');
    $res = req(GET => "/api/items?$q", auth => 'alice', headers => { 'If-None-Match' => $etag });
    status_is($res, 304, 'list with a matching If-None-Match');
    is($res->content // '', '', '304 has no body');
    isnt(req(GET => "/api/items?$q&favorite=true", auth => 'alice')->header('ETag') // '', $etag,
         'another query gives another ETag');

    req(PATCH => "/api/items/$ids[4]", auth => 'alice', json => { favorite => $T });
    $res = req(GET => "/api/items?$q", auth => 'alice', headers => { 'If-None-Match' => $etag });
    status_is($res, 200, 'after a change the old ETag no longer matches');
    isnt($res->header('ETag') // '', $etag, 'after a change: a new ETag');

    # bob's list of the same query is not alice's
    $res = req(GET => "/api/items?$q", auth => 'bob', headers => { 'If-None-Match' => $etag });
    status_is($res, 200, "bob's list with alice's ETag is not a 304");
    my $bd = json_of($res) // {};
    is_deeply([ map { $_->{id} } @{ $bd->{items} // [] } ], [], "bob does not see alice's items");
};

done_testing;
