use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use Test::More;
use PokettoTest;

# the server is up and serves static files on 127.0.0.1
my $res = req(GET => '/');
is($res->code, 200, 'static GET / answers 200');
like($res->decoded_content // '', qr/poketto-test-static/, 'static index.html served');

# the module is loaded and answers on /api
problem_ok(req(GET => '/api/items'), 401, 'GET /api/items without credentials');

# /api names no file: httpd does not walk the document root for it (no .htaccess is read;
# mod_poketto's translate_name and map_to_storage). t/htdocs/api/.htaccess sets
# X-Poketto-Walked whenever its folder is walked, as /apidir (an Alias of it) shows.
my $walked = req(GET => '/apidir/');
is($walked->header('X-Poketto-Walked') // '', 't/htdocs/api/.htaccess',
   'a walk of t/htdocs/api reads its .htaccess (/apidir)');
for my $path ('/api/items', '/api/session', '/api/items/1') {
    my $r = req(GET => $path);
    ok(!defined $r->header('X-Poketto-Walked'), "GET $path: no .htaccess read (" . $r->code . ')');
}

done_testing;
