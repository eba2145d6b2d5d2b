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

done_testing;
