/** Registers the operator commands of this folder with tollgate-gateway. cli.ts imports it. */
import { SUBCOMMANDS } from '../commands';
import { checkCommand } from './check-command';
import { initCommand } from './init-command';

SUBCOMMANDS.init = (argv) => initCommand(argv);
SUBCOMMANDS.check = (argv) => checkCommand(argv);
