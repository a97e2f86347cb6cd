// The pgstack executable; everything lives in run.cc and the command files.
#include "pgstack/cli/commands.h"

int main(int argc, char** argv) { return pgstack::cli::run(argc, argv); }
