/* phonetrustd entry point; the daemon lives in pt_daemon (daemon.c) so
 * that tests link the same code. */
#include "daemon/daemon.h"

int main(int argc, char **argv)
{
	return pt_daemon_main(argc, argv);
}
