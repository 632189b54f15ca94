"""The device side: ``lensguard agent`` publishes video and obeys control commands."""
